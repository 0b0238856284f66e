package keyspec

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// opensslRunner runs openssl in a temporary directory of files.
type opensslRunner struct {
	t   *testing.T
	dir string
}

func newOpenSSL(t *testing.T) *opensslRunner {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not in PATH")
	}
	return &opensslRunner{t: t, dir: t.TempDir()}
}

func (o *opensslRunner) file(name string, data []byte) string {
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

func (o *opensslRunner) pem(name, typ string, der []byte) string {
	return o.file(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func (o *opensslRunner) run(args ...string) ([]byte, error) {
	cmd := exec.Command("openssl", args...)
	cmd.Dir = o.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		o.t.Logf("openssl %v: %v: %s%s", args, err, out, stderr.Bytes())
	}
	return out, err
}

func (o *opensslRunner) read(name string) []byte {
	b, err := os.ReadFile(filepath.Join(o.dir, name))
	if err != nil {
		o.t.Fatal(err)
	}
	return b
}

// TestOpenSSLVerifies: OpenSSL verifies our signatures with the
// GetPublicKey output written as PEM, and rejects them for another message.
func TestOpenSSLVerifies(t *testing.T) {
	o := newOpenSSL(t)
	msg := o.file("msg", []byte("signed by strongroom"))
	other := o.file("other", []byte("signed by someone else"))
	for _, tc := range []struct {
		spec Spec
		alg  Algorithm
		args []string // the verify command, without the message
	}{
		{RSA2048, RSASSAPSSSHA256, []string{"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-verify", "pub.pem", "-signature", "sig"}},
		{RSA3072, RSASSAPSSSHA512, []string{"dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-verify", "pub.pem", "-signature", "sig"}},
		{RSA2048, RSASSAPKCS1v15SHA256, []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}},
		{RSA2048, RSASSAPKCS1v15SHA384, []string{"dgst", "-sha384", "-verify", "pub.pem", "-signature", "sig"}},
		{ECCNISTP256, ECDSASHA256, []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}},
		{ECCNISTP521, ECDSASHA512, []string{"dgst", "-sha512", "-verify", "pub.pem", "-signature", "sig"}},
		{ECCSECGP256K1, ECDSASHA256, []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}},
		{ECCNISTEdwards25519, Ed25519SHA512, []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-sigfile", "sig", "-in"}},
	} {
		t.Run(string(tc.spec)+"/"+string(tc.alg), func(t *testing.T) {
			k := testKey(t, tc.spec, SignVerify)
			sig, err := k.Sign(tc.alg, Raw, []byte("signed by strongroom"))
			if err != nil {
				t.Fatal(err)
			}
			o.pem("pub.pem", "PUBLIC KEY", mustDER(t, k))
			o.file("sig", sig)
			if _, err := o.run(append(tc.args, msg)...); err != nil {
				t.Error("openssl does not verify the signature")
			}
			if _, err := o.run(append(tc.args, other)...); err == nil {
				t.Error("openssl verifies the signature for another message")
			}
		})
	}
}

// TestOpenSSLReadsPKCS8: OpenSSL reads the private key material and derives
// the same SubjectPublicKeyInfo as PublicKeyDER.
func TestOpenSSLReadsPKCS8(t *testing.T) {
	o := newOpenSSL(t)
	for _, spec := range []Spec{ECCSECGP256K1, ECCNISTP384, RSA2048, ECCNISTEdwards25519} {
		o.file("priv.der", testMaterial(t, spec))
		out, err := o.run("pkey", "-inform", "DER", "-in", "priv.der", "-pubout", "-outform", "DER")
		if err != nil {
			t.Errorf("%s: openssl cannot read the PKCS#8", spec)
			continue
		}
		if want := mustDER(t, testKey(t, spec, SignVerify)); !bytes.Equal(out, want) {
			t.Errorf("%s: openssl derives public key %x, we %x", spec, out, want)
		}
	}
}

// TestOpenSSLEncrypts: OpenSSL's RSA-OAEP (MGF1 with the same hash)
// encryption to the public key decrypts here.
func TestOpenSSLEncrypts(t *testing.T) {
	o := newOpenSSL(t)
	k := testKey(t, RSA2048, EncryptDecrypt)
	o.pem("pub.pem", "PUBLIC KEY", mustDER(t, k))
	pt := o.file("pt", []byte("plaintext for OAEP"))
	for alg, md := range map[Algorithm]string{RSAESOAEPSHA1: "sha1", RSAESOAEPSHA256: "sha256"} {
		if _, err := o.run("pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", pt, "-out", "ct",
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md); err != nil {
			t.Fatal(err)
		}
		got, err := k.Decrypt(alg, o.read("ct"))
		if err != nil || string(got) != "plaintext for OAEP" {
			t.Errorf("%s: Decrypt of OpenSSL's ciphertext = %q, %v", alg, got, err)
		}
	}
}

// TestOpenSSLDerives: OpenSSL derives the same ECDH secret from the peer's
// side.
func TestOpenSSLDerives(t *testing.T) {
	o := newOpenSSL(t)
	k := testKey(t, ECCNISTP256, KeyAgreement)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerPKCS8, err := x509.MarshalPKCS8PrivateKey(peer)
	if err != nil {
		t.Fatal(err)
	}
	peerSPKI, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	o.pem("peer.pem", "PRIVATE KEY", peerPKCS8)
	o.pem("ours.pem", "PUBLIC KEY", mustDER(t, k))
	want, err := o.run("pkeyutl", "-derive", "-inkey", "peer.pem", "-peerkey", "ours.pem")
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.DeriveSharedSecret(ECDH, peerSPKI)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("secret %x, OpenSSL's %x (%v)", got, want, err)
	}
}

// TestOpenSSLHMAC: OpenSSL computes the same HMAC with the raw key.
func TestOpenSSLHMAC(t *testing.T) {
	o := newOpenSSL(t)
	material := testMaterial(t, HMAC256)
	k := testKey(t, HMAC256, GenerateVerifyMAC)
	msg := []byte("mac me")
	out, err := o.run("dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(material), "-binary", o.file("m", msg))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := k.GenerateMac(HMACSHA256, msg)
	h := hmac.New(sha256.New, material)
	h.Write(msg)
	if !bytes.Equal(got, out) || !bytes.Equal(got, h.Sum(nil)) {
		t.Errorf("HMAC %x, OpenSSL's %x", got, out)
	}
}
