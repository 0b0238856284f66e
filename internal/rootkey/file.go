package rootkey

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileHeader starts every root key file, so a wrong file is recognised.
const fileHeader = "strongroom-root-key-v1 "

// OpenFile loads the root key at path, creating it (256 random bits, mode
// 0600, written atomically) when it does not exist and create is true.
func OpenFile(path string, create bool) (Sealer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := writeNewRootKey(path); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("rootkey: reading root key file: %w", err)
	}
	root, err := parseRootKeyFile(b)
	if err != nil {
		return nil, fmt.Errorf("rootkey: %s: %w", path, err)
	}
	defer clear(root)
	return newAEADSealer("file", root)
}

func parseRootKeyFile(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte(fileHeader)) {
		return nil, errors.New("not a strongroom root key file")
	}
	root := make([]byte, 32)
	n, err := hex.Decode(root, b[len(fileHeader):])
	if err != nil || n != 32 || len(b)-len(fileHeader) != 64 {
		return nil, errors.New("root key file is damaged")
	}
	return root, nil
}

func writeNewRootKey(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	root := make([]byte, 32)
	if _, err := rand.Read(root); err != nil {
		return err
	}
	content := []byte(fileHeader + hex.EncodeToString(root) + "\n")
	clear(root)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".root.key-*")
	if err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("rootkey: %w", err)
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("rootkey: %w", err)
	}
	clear(content)
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("rootkey: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	// Link, not rename: never replace a root key that appeared meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// NewEphemeral returns a Sealer with a random root that exists only in
// memory (strongroom dev, tests).
func NewEphemeral() Sealer {
	root := make([]byte, 32)
	if _, err := rand.Read(root); err != nil {
		panic(err)
	}
	s, err := newAEADSealer("ephemeral", root)
	clear(root)
	if err != nil {
		panic(err)
	}
	return s
}
