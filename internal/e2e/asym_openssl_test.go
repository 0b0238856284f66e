package e2e

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// Cross-checks with OpenSSL, an implementation that shares nothing with
// ours: OpenSSL verifies what the service signs with the GetPublicKey output
// written as PEM, encrypts to it, and derives the same ECDH secret. Under
// CI=true a missing openssl fails the test instead of skipping it.

// opensslDir runs openssl in a temporary directory of files.
type opensslDir struct {
	t   *testing.T
	dir string
}

func newOpenSSLDir(t *testing.T) *opensslDir {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not in PATH, and CI=true: the OpenSSL cross-checks must run")
		}
		t.Skip("openssl is not in PATH")
	}
	return &opensslDir{t: t, dir: t.TempDir()}
}

func (o *opensslDir) write(name string, data []byte) string {
	o.t.Helper()
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

func (o *opensslDir) pem(name, typ string, der []byte) string {
	return o.write(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// run runs openssl with args; its output and error are logged on failure.
func (o *opensslDir) run(args ...string) ([]byte, error) {
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

var (
	pssArgs = []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}
	// opensslSignCases: the verify command for each signature, without the
	// input file. RAW messages go through "openssl dgst", DIGEST messages
	// through "openssl pkeyutl" with the digest named.
	opensslSignCases = []struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		mt   types.MessageType
		args []string
	}{
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeRaw, append([]string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}, pssArgs...)},
		{types.KeySpecRsa3072, types.SigningAlgorithmSpecRsassaPssSha512, types.MessageTypeRaw, append([]string{"dgst", "-sha512", "-verify", "pub.pem", "-signature", "sig"}, pssArgs...)},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-sigfile", "sig",
			"-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest", "-in"}},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, types.MessageTypeRaw, []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}},
		{types.KeySpecRsa4096, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384, types.MessageTypeRaw, []string{"dgst", "-sha384", "-verify", "pub.pem", "-signature", "sig"}},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, types.MessageTypeDigest, []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-sigfile", "sig",
			"-pkeyopt", "digest:sha512", "-in"}},
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}},
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-sigfile", "sig", "-in"}},
		{types.KeySpecEccNistP384, types.SigningAlgorithmSpecEcdsaSha384, types.MessageTypeRaw, []string{"dgst", "-sha384", "-verify", "pub.pem", "-signature", "sig"}},
		{types.KeySpecEccNistP521, types.SigningAlgorithmSpecEcdsaSha512, types.MessageTypeRaw, []string{"dgst", "-sha512", "-verify", "pub.pem", "-signature", "sig"}},
		{types.KeySpecEccSecgP256k1, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"}},
		{types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512, types.MessageTypeRaw, []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-sigfile", "sig", "-in"}},
	}
)

func TestOpenSSLVerifiesSignatures(t *testing.T) {
	newOpenSSLDir(t)
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	keys := map[types.KeySpec]string{}
	for _, tc := range opensslSignCases {
		t.Run(string(tc.spec)+"/"+string(tc.alg)+"/"+string(tc.mt), func(t *testing.T) {
			o := &opensslDir{t: t, dir: t.TempDir()}
			id, ok := keys[tc.spec]
			if !ok {
				id = createKeyOf(t, c, tc.spec, types.KeyUsageTypeSignVerify)
				keys[tc.spec] = id
			}
			msg := []byte("signed by strongroom, checked by openssl")
			other := []byte("a message nobody signed")
			if tc.mt == types.MessageTypeDigest {
				msg, other = digestOf(hashOf(tc.alg), msg), digestOf(hashOf(tc.alg), other)
			}
			out := must[*kms.SignOutput](t)(c.Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: msg, MessageType: tc.mt, SigningAlgorithm: tc.alg}))
			o.pem("pub.pem", "PUBLIC KEY", publicKeyDER(t, c, id))
			o.write("sig", out.Signature)
			if _, err := o.run(append(tc.args, o.write("msg", msg))...); err != nil {
				t.Error("openssl does not verify the signature")
			}
			if _, err := o.run(append(tc.args, o.write("other", other))...); err == nil {
				t.Error("openssl verifies the signature for another message")
			}
		})
	}
}

// TestOpenSSLEncryptsToRSAKeys: OpenSSL's RSA-OAEP encryption to the
// GetPublicKey PEM decrypts through the service.
func TestOpenSSLEncryptsToRSAKeys(t *testing.T) {
	newOpenSSLDir(t)
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := createKeyOf(t, c, types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt)
	der := publicKeyDER(t, c, id)
	pt := []byte("sealed by openssl")
	for alg, md := range map[types.EncryptionAlgorithmSpec]string{types.EncryptionAlgorithmSpecRsaesOaepSha1: "sha1", types.EncryptionAlgorithmSpecRsaesOaepSha256: "sha256"} {
		t.Run(string(alg), func(t *testing.T) {
			o := &opensslDir{t: t, dir: t.TempDir()}
			o.pem("pub.pem", "PUBLIC KEY", der)
			ct, err := o.run("pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", o.write("pt", pt),
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
			if err != nil {
				t.Fatal(err)
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: ct, EncryptionAlgorithm: alg}))
			if !bytes.Equal(dec.Plaintext, pt) {
				t.Errorf("Decrypt = %q", dec.Plaintext)
			}
		})
	}
}

// TestOpenSSLDerivesTheSharedSecret: OpenSSL, holding the peer's private
// key, derives the secret DeriveSharedSecret returns.
func TestOpenSSLDerivesTheSharedSecret(t *testing.T) {
	o := newOpenSSLDir(t)
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := createKeyOf(t, c, types.KeySpecEccNistP384, types.KeyUsageTypeKeyAgreement)
	peer, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerPKCS8, err := x509.MarshalPKCS8PrivateKey(peer)
	if err != nil {
		t.Fatal(err)
	}
	peerSPKI, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	o.pem("peer.pem", "PRIVATE KEY", peerPKCS8)
	o.pem("kms.pem", "PUBLIC KEY", publicKeyDER(t, c, id))
	want, err := o.run("pkeyutl", "-derive", "-inkey", "peer.pem", "-peerkey", "kms.pem")
	if err != nil {
		t.Fatal(err)
	}
	out := must[*kms.DeriveSharedSecretOutput](t)(c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{
		KeyId: aws.String(id), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerSPKI}))
	if !bytes.Equal(out.SharedSecret, want) {
		t.Errorf("SharedSecret %x, OpenSSL derives %x", out.SharedSecret, want)
	}
}
