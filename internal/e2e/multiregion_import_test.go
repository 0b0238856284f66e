package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Multi-Region keys with imported key material (Origin EXTERNAL): AWS does
// not copy imported material to replicas; the owner imports the same
// material into every related key, and different material fails with
// IncorrectKeyMaterialException.

// newExternalMRK creates a multi-Region primary key with Origin EXTERNAL in
// us-east-1.
func (m *mrkEnv) newExternalMRK(t *testing.T) string {
	t.Helper()
	out, err := m.c[usEast].CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// importAs imports material into id through client c with the given
// ImportType ("" for none); the material does not expire.
func importAs(t *testing.T, c *kms.Client, id string, material []byte, importType types.ImportType) (*kms.ImportKeyMaterialOutput, error) {
	t.Helper()
	const alg = types.AlgorithmSpecRsaesOaepSha256
	p := must[*kms.GetParametersForImportOutput](t)(c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048}))
	return c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapLocally(t, alg, p.PublicKey, material),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialDoesNotExpire, ImportType: importType})
}

func randomMaterial() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// crossDecrypt encrypts in each of from and checks that the ciphertext
// decrypts in every region of to, and opens locally with material.
func (m *mrkEnv) crossDecrypt(t *testing.T, id string, material []byte, regions ...string) {
	t.Helper()
	for _, from := range regions {
		pt := []byte("imported, encrypted in " + from)
		blob := encrypt(t, m.c[from], id, pt, nil)
		if got := openLocally(t, material, blob, nil); !bytes.Equal(got, pt) {
			t.Fatalf("encrypted in %s: the blob opens locally to %q", from, got)
		}
		for _, to := range regions {
			out, err := m.c[to].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
			if err != nil {
				t.Fatalf("encrypted in %s, decrypt in %s: %v", from, to, err)
			}
			if !bytes.Equal(out.Plaintext, pt) || aws.ToString(out.KeyId) != keyARN(to, id) {
				t.Errorf("encrypted in %s, decrypted in %s: %q under %s", from, to, out.Plaintext, aws.ToString(out.KeyId))
			}
		}
	}
}

func TestMultiRegionImportedMaterial(t *testing.T) {
	m := newMRKEnv(t)
	id := m.newExternalMRK(t)
	a, b := randomMaterial(), randomMaterial()
	idA := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, a, "")).KeyMaterialId)

	out := m.replicate(t, id, euWest)
	if out.ReplicaKeyMetadata.KeyState != types.KeyStatePendingImport || out.ReplicaKeyMetadata.Origin != types.OriginTypeExternal {
		t.Fatalf("replica of an EXTERNAL key: %s, origin %s; want PendingImport, EXTERNAL", out.ReplicaKeyMetadata.KeyState, out.ReplicaKeyMetadata.Origin)
	}

	// Other material than the primary's is refused, and changes nothing.
	_, err := importAs(t, m.c[euWest], id, b, "")
	wantCode(t, err, "IncorrectKeyMaterialException")
	_, err = importAs(t, m.c[euWest], id, b, types.ImportTypeNewKeyMaterial)
	wantCode(t, err, "IncorrectKeyMaterialException")
	if st := keyState(t, m.c[euWest], id); st != types.KeyStatePendingImport {
		t.Fatalf("after refused imports the replica is %s", st)
	}
	if msg := apiMessage(err); strings.Contains(msg, idA) {
		t.Errorf("the refusal names the primary's material id: %q", msg)
	}

	// The primary's material is taken, with the same KeyMaterialId.
	got := must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, a, ""))
	if aws.ToString(got.KeyMaterialId) != idA {
		t.Errorf("KeyMaterialId in the replica %s, in the primary %s", aws.ToString(got.KeyMaterialId), idA)
	}
	if st := keyState(t, m.c[euWest], id); st != types.KeyStateEnabled {
		t.Fatalf("after importing the primary's material the replica is %s", st)
	}
	m.crossDecrypt(t, id, a, usEast, euWest)

	// A replica made after the import starts without material, and takes
	// only the family's.
	m.replicate(t, id, apSE)
	if st := keyState(t, m.c[apSE], id); st != types.KeyStatePendingImport {
		t.Fatalf("new replica: %s", st)
	}
	_, err = importAs(t, m.c[apSE], id, b, "")
	wantCode(t, err, "IncorrectKeyMaterialException")
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[apSE], id, a, ""))
	m.crossDecrypt(t, id, a, usEast, euWest, apSE)

	// Re-importing into the primary other material than its own is
	// refused as before.
	_, err = importAs(t, m.c[usEast], id, b, "")
	wantCode(t, err, "IncorrectKeyMaterialException")

	// New material (for an on-demand rotation) goes into the primary
	// first: a replica refuses it until then, and takes it afterwards.
	c := randomMaterial()
	_, err = importAs(t, m.c[euWest], id, c, types.ImportTypeNewKeyMaterial)
	wantCode(t, err, "IncorrectKeyMaterialException")
	idC := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, c, types.ImportTypeNewKeyMaterial)).KeyMaterialId)
	if gotC := aws.ToString(must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, c, types.ImportTypeExistingKeyMaterial)).KeyMaterialId); gotC != idC {
		t.Errorf("new material's id in the replica %s, in the primary %s", gotC, idC)
	}
	_, err = importAs(t, m.c[apSE], id, randomMaterial(), types.ImportTypeNewKeyMaterial)
	wantCode(t, err, "IncorrectKeyMaterialException")
}

// TestMultiRegionImportReplicaFirst: the first material of a family may go
// into a replica first; the primary must then take the same.
func TestMultiRegionImportReplicaFirst(t *testing.T) {
	m := newMRKEnv(t)
	id := m.newExternalMRK(t)
	m.replicate(t, id, euWest)
	a := randomMaterial()
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, a, ""))
	_, err := importAs(t, m.c[usEast], id, randomMaterial(), "")
	wantCode(t, err, "IncorrectKeyMaterialException")
	if st := keyState(t, m.c[usEast], id); st != types.KeyStatePendingImport {
		t.Fatalf("after a refused import the primary is %s", st)
	}
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, a, ""))
	m.crossDecrypt(t, id, a, usEast, euWest)
}

// TestMultiRegionImportAsymmetric: the check holds for asymmetric keys,
// whose material is a private key.
func TestMultiRegionImportAsymmetric(t *testing.T) {
	m := newMRKEnv(t)
	out, err := m.c[usEast].CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Origin: types.OriginTypeExternal,
		KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	k1, k2 := ecdsaPKCS8(t), ecdsaPKCS8(t)
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[usEast], id, k1, ""))
	m.replicate(t, id, euWest)
	_, err = importAs(t, m.c[euWest], id, k2, "")
	wantCode(t, err, "IncorrectKeyMaterialException")
	must[*kms.ImportKeyMaterialOutput](t)(importAs(t, m.c[euWest], id, k1, ""))
	sig, err := m.c[euWest].Sign(ctx, &kms.SignInput{KeyId: aws.String(id), Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.c[usEast].Verify(ctx, &kms.VerifyInput{KeyId: aws.String(id), Message: []byte("m"), Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil || !v.SignatureValid {
		t.Fatalf("a signature made in eu-west-1 does not verify in us-east-1: %v", err)
	}
}

// ecdsaPKCS8 returns a new P-256 private key, PKCS #8 DER.
func ecdsaPKCS8(t *testing.T) []byte {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
