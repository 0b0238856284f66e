package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// Crash consistency: a mixed load from several goroutines, SIGKILL at a
// random moment, restart, and check that everything the server
// acknowledged is there and still decrypts. Each worker owns its keys and
// changes their state one call at a time, so the model knows every key's
// acknowledged state exactly; only the call in flight when the server died
// may have landed either way.

// crashKey is the model of one key: its acknowledged state and, if a state
// change was in flight at the kill, the state it would have led to.
type crashKey struct {
	id      string
	state   types.KeyState
	maybe   types.KeyState // "" when nothing was in flight
	aliases []string
}

// crashBlob is an acknowledged ciphertext and its plaintext.
type crashBlob struct {
	keyID string
	blob  []byte
	pt    []byte
	ctx   map[string]string
}

// maxKeysPerWorker keeps the model, and so each verification, bounded.
const maxKeysPerWorker = 25

type crashModel struct {
	mu    sync.Mutex
	keys  []*crashKey
	blobs []crashBlob
	// checked is how many blobs a verification has decrypted already.
	checked int
	// seq names aliases uniquely across cycles.
	seq atomic.Int64
}

// crashWorker runs one worker's load until the server dies (killed is set)
// or stop closes. It reports unexpected API errors with t.Errorf.
func crashWorker(t *testing.T, c *kms.Client, m *crashModel, mine []*crashKey, seed uint64, killed *atomic.Bool, stop <-chan struct{}, newKeys chan<- *crashKey) {
	r := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	// failed reports whether err ends the worker: a transport error once
	// the server was killed. Anything else is a bug.
	failed := func(op string, err error) bool {
		if err == nil {
			return false
		}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			t.Errorf("%s: the server answered %v", op, err)
			return true
		}
		if !killed.Load() {
			t.Errorf("%s failed while the server was up: %v", op, err)
		}
		return true
	}
	enabled := func() *crashKey {
		var ks []*crashKey
		for _, k := range mine {
			if k.state == types.KeyStateEnabled {
				ks = append(ks, k)
			}
		}
		if len(ks) == 0 {
			return nil
		}
		return ks[r.IntN(len(ks))]
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		p := r.IntN(100)
		switch {
		case len(mine) == 0 || p < 8 && len(mine) < maxKeysPerWorker:
			out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("crash test")})
			if failed("CreateKey", err) {
				return
			}
			k := &crashKey{id: *out.KeyMetadata.KeyId, state: types.KeyStateEnabled}
			mine = append(mine, k)
			newKeys <- k
		case p < 22:
			k := mine[r.IntN(len(mine))]
			if k.state == types.KeyStatePendingDeletion {
				continue // AWS refuses an alias to a key pending deletion
			}
			name := fmt.Sprintf("alias/crash-%d", m.seq.Add(1))
			_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &name, TargetKeyId: &k.id})
			if failed("CreateAlias", err) {
				return
			}
			m.mu.Lock()
			k.aliases = append(k.aliases, name)
			m.mu.Unlock()
		case p < 50:
			k := enabled()
			if k == nil {
				continue
			}
			pt := make([]byte, 1+r.IntN(200))
			for i := range pt {
				pt[i] = byte(r.Uint32())
			}
			ec := map[string]string{"n": strconv.Itoa(r.IntN(1000))}
			out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &k.id, Plaintext: pt, EncryptionContext: ec})
			if failed("Encrypt", err) {
				return
			}
			m.mu.Lock()
			m.blobs = append(m.blobs, crashBlob{keyID: k.id, blob: out.CiphertextBlob, pt: pt, ctx: ec})
			m.mu.Unlock()
		case p < 70:
			k := enabled()
			if k == nil {
				continue
			}
			out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &k.id, KeySpec: types.DataKeySpecAes256})
			if failed("GenerateDataKey", err) {
				return
			}
			m.mu.Lock()
			m.blobs = append(m.blobs, crashBlob{keyID: k.id, blob: out.CiphertextBlob, pt: out.Plaintext})
			m.mu.Unlock()
		default:
			// A state change, acknowledged or in flight.
			k := mine[r.IntN(len(mine))]
			var next types.KeyState
			var err error
			op := ""
			switch {
			case k.state == types.KeyStatePendingDeletion:
				op, next = "CancelKeyDeletion", types.KeyStateDisabled
				m.setMaybe(k, next)
				_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &k.id})
			case p < 78 && k.state == types.KeyStateEnabled:
				op, next = "DisableKey", types.KeyStateDisabled
				m.setMaybe(k, next)
				_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &k.id})
			case p < 78:
				op, next = "EnableKey", types.KeyStateEnabled
				m.setMaybe(k, next)
				_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &k.id})
			default:
				op, next = "ScheduleKeyDeletion", types.KeyStatePendingDeletion
				m.setMaybe(k, next)
				_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &k.id, PendingWindowInDays: aws.Int32(7)})
			}
			if failed(op, err) {
				return // k.maybe stays: the change may have landed
			}
			m.mu.Lock()
			k.state, k.maybe = next, ""
			m.mu.Unlock()
		}
	}
}

func (m *crashModel) setMaybe(k *crashKey, s types.KeyState) {
	m.mu.Lock()
	k.maybe = s
	m.mu.Unlock()
}

// verify checks the restarted server against the model, then settles every
// key to Enabled (so that all ciphertexts can be decrypted and the next
// cycle can use every key). It decrypts the ciphertexts acknowledged since
// the last verification and a sample of older ones, or, with all, every one.
func (m *crashModel) verify(t *testing.T, c *kms.Client, cycle int, all bool) {
	t.Helper()
	ctx := context.Background()
	m.mu.Lock()
	defer m.mu.Unlock()
	known := map[string]*crashKey{}
	for _, k := range m.keys {
		known[k.id] = k
		out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &k.id})
		if err != nil {
			t.Fatalf("cycle %d: key %s, acknowledged, is gone: %v", cycle, k.id, err)
		}
		got := out.KeyMetadata.KeyState
		if got != k.state && (k.maybe == "" || got != k.maybe) {
			t.Fatalf("cycle %d: key %s is %s; acknowledged %s (in flight: %q)", cycle, k.id, got, k.state, k.maybe)
		}
		if got == types.KeyStatePendingDeletion {
			if _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &k.id}); err != nil {
				t.Fatalf("cycle %d: CancelKeyDeletion %s: %v", cycle, k.id, err)
			}
			got = types.KeyStateDisabled
		}
		if got == types.KeyStateDisabled {
			if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &k.id}); err != nil {
				t.Fatalf("cycle %d: EnableKey %s: %v", cycle, k.id, err)
			}
		}
		k.state, k.maybe = types.KeyStateEnabled, ""
		for _, a := range k.aliases {
			out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(a)})
			if err != nil || *out.KeyMetadata.KeyId != k.id {
				t.Fatalf("cycle %d: alias %s, acknowledged for %s: %v", cycle, a, k.id, err)
			}
		}
	}
	// Acknowledged ciphertexts decrypt to their plaintexts, from several
	// goroutines at once.
	todo := m.blobs[m.checked:]
	if all {
		todo = m.blobs
	} else {
		for range min(200, m.checked) {
			todo = append(todo[:len(todo):len(todo)], m.blobs[rand.IntN(m.checked)])
		}
	}
	m.checked = len(m.blobs)
	var wg sync.WaitGroup
	var bad atomic.Int64
	next := atomic.Int64{}
	for range 6 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(todo) {
					return
				}
				b := todo[i]
				out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b.blob, EncryptionContext: b.ctx})
				if err != nil || !bytes.Equal(out.Plaintext, b.pt) || *out.KeyId != arnOf(b.keyID) {
					if bad.Add(1) <= 3 {
						t.Errorf("cycle %d: an acknowledged ciphertext under %s does not decrypt: %v", cycle, b.keyID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("cycle %d: %d of %d acknowledged ciphertexts checked lost", cycle, bad.Load(), len(todo))
	}
	// Keys whose creation was in flight may exist: each must be whole
	// (metadata and material together), so it encrypts and decrypts.
	var marker *string
	for {
		out, err := c.ListKeys(ctx, &kms.ListKeysInput{Marker: marker})
		if err != nil {
			t.Fatalf("cycle %d: ListKeys: %v", cycle, err)
		}
		for _, e := range out.Keys {
			if known[*e.KeyId] != nil {
				continue
			}
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: e.KeyId})
			if err != nil {
				t.Fatalf("cycle %d: listed key %s: %v", cycle, *e.KeyId, err)
			}
			if d.KeyMetadata.KeyState != types.KeyStateEnabled {
				continue
			}
			enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: e.KeyId, Plaintext: []byte("whole?")})
			if err != nil {
				t.Fatalf("cycle %d: a key created in flight is not usable: %v", cycle, err)
			}
			if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
				t.Fatalf("cycle %d: a key created in flight does not decrypt: %v", cycle, err)
			}
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	// Every alias points at a key that exists.
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{Limit: aws.Int32(1000)})
	if err != nil {
		t.Fatalf("cycle %d: ListAliases: %v", cycle, err)
	}
	for _, a := range aliases.Aliases {
		if a.TargetKeyId == nil {
			continue
		}
		if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: a.TargetKeyId}); err != nil {
			t.Fatalf("cycle %d: alias %s points at a key that is not there: %v", cycle, *a.AliasName, err)
		}
	}
}

func arnOf(keyID string) string { return "arn:aws:kms:us-east-1:111122223333:key/" + keyID }

// TestCrashConsistency runs the mixed load over many SIGKILL cycles.
func TestCrashConsistency(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STRONGROOM_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (STRONGROOM_CRASH_SEED reruns it)", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	const (
		maxCycles = 16
		minCycles = 6
		budget    = 35 * time.Second // of the test's time, the rest is the final check
		workers   = 6
	)
	dir := t.TempDir()
	m := &crashModel{}
	began := time.Now()
	cycles := 0
	for cycle := range maxCycles {
		if cycle >= minCycles && time.Since(began) > budget {
			break
		}
		cycles++
		s := start(t, dir, envCreds)
		c := s.client(testAKID, testSecret)
		m.verify(t, c, cycle, false)

		// Keys go to the worker that created them; earlier ones are
		// dealt out round-robin.
		owned := make([][]*crashKey, workers)
		for i, k := range m.keys {
			owned[i%workers] = append(owned[i%workers], k)
		}
		var killed atomic.Bool
		stop := make(chan struct{})
		newKeys := make(chan *crashKey, 1024)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				crashWorker(t, c, m, owned[w], seed+uint64(cycle*workers+w), &killed, stop, newKeys)
			})
		}
		collected := make(chan struct{})
		go func() {
			defer close(collected)
			for k := range newKeys {
				m.mu.Lock()
				m.keys = append(m.keys, k)
				m.mu.Unlock()
			}
		}()
		time.Sleep(time.Duration(50+r.IntN(600)) * time.Millisecond)
		killed.Store(true)
		s.kill() // SIGKILL, at whatever the workers were doing
		close(stop)
		wg.Wait()
		close(newKeys)
		<-collected
		if t.Failed() {
			t.FailNow()
		}
	}
	s := start(t, dir, envCreds)
	m.verify(t, s.client(testAKID, testSecret), cycles, true)
	t.Logf("%d cycles in %v: %d keys, %d ciphertexts acknowledged and verified after every kill",
		cycles, time.Since(began).Round(time.Millisecond), len(m.keys), len(m.blobs))
	// And a clean stop after all that.
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("SIGTERM after the crash cycles: %v\n%s", err, s.stderr)
	}
}

// TestCrashDuringFirstStart kills the server at random moments while it
// creates its data directory, root key and bootstrap credentials: the next
// start must work, with credentials that work, or refuse with a message;
// it must never come up with a root of trust that does not match the
// store.
func TestCrashDuringFirstStart(t *testing.T) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for i := range 6 {
		dir := filepath.Join(t.TempDir(), "data")
		cmd := exec.Command(binary, "serve", "--listen", freePort(t), "--data-dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		t0 := time.Now()
		s := start(t, dir, nil)
		if d := time.Since(t0); d > 10*time.Second {
			// A start that waits out something the killed process held
			// (a lease, a lock) leaves the port accepting and not answering.
			t.Errorf("run %d: the start after a kill during first start took %v", i, d)
		}
		akid, secret := readCreds(t, filepath.Join(dir, "bootstrap-credentials"))
		c := s.client(akid, secret)
		ck, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
		if err != nil {
			t.Fatalf("run %d: after a kill during first start, the bootstrap credentials do not work: %v\n%s", i, err, s.stderr)
		}
		if _, err := c.Encrypt(context.Background(), &kms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		s.kill()
	}
}
