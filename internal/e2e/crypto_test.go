package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// The cryptographic operations over the wire: Encrypt, Decrypt, ReEncrypt,
// GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom, the
// binding of the encryption context, the Encrypt limit and DryRun.

const unknownKey = "0b8c7d2e-1111-4222-8333-444455556666"

func TestEncryptDecryptByEveryKeyReference(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	arn := keyARN(testenv.Region, id)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/crypto"), TargetKeyId: aws.String(id)}))

	for _, ref := range []struct{ name, ref string }{
		{"key id", id}, {"key ARN", arn}, {"alias name", "alias/crypto"}, {"alias ARN", aliasARN(testenv.Region, "alias/crypto")},
	} {
		t.Run(ref.name, func(t *testing.T) {
			pt := []byte("plaintext via " + ref.name)
			enc := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref.ref), Plaintext: pt}))
			if aws.ToString(enc.KeyId) != arn {
				t.Errorf("Encrypt KeyId = %s, want the key ARN %s", aws.ToString(enc.KeyId), arn)
			}
			if enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Errorf("Encrypt EncryptionAlgorithm = %q", enc.EncryptionAlgorithm)
			}
			if bytes.Contains(enc.CiphertextBlob, pt) {
				t.Error("ciphertext contains the plaintext")
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
			if !bytes.Equal(dec.Plaintext, pt) {
				t.Errorf("Decrypt = %q, want %q", dec.Plaintext, pt)
			}
			if aws.ToString(dec.KeyId) != arn || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Errorf("Decrypt KeyId %s, algorithm %q", aws.ToString(dec.KeyId), dec.EncryptionAlgorithm)
			}
		})
	}

	t.Run("same plaintext twice gives different ciphertexts", func(t *testing.T) {
		a := encrypt(t, c, id, []byte("same"), nil)
		b := encrypt(t, c, id, []byte("same"), nil)
		if bytes.Equal(a, b) {
			t.Error("Encrypt is deterministic")
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		for _, ref := range []string{unknownKey, "alias/none", keyARN(testenv.Region, unknownKey)} {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(ref), Plaintext: []byte("x")})
			wantCode(t, err, "NotFoundException")
		}
	})
	t.Run("empty plaintext", func(t *testing.T) {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte{}})
		wantCode(t, err, "ValidationException")
	})
	t.Run("an asymmetric encryption algorithm", func(t *testing.T) {
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		wantCode(t, err, "InvalidKeyUsageException")
	})
}

func TestDecryptKeyID(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	other := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/mine"), TargetKeyId: aws.String(id)}))
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/other"), TargetKeyId: aws.String(other)}))
	ct := encrypt(t, c, id, []byte("whose?"), nil)

	cases := []struct {
		name  string
		keyID *string
		code  string
	}{
		{"no KeyId", nil, ""},
		{"matching key id", aws.String(id), ""},
		{"matching key ARN", aws.String(keyARN(testenv.Region, id)), ""},
		{"matching alias", aws.String("alias/mine"), ""},
		{"matching alias ARN", aws.String(aliasARN(testenv.Region, "alias/mine")), ""},
		{"another key's id", aws.String(other), "IncorrectKeyException"},
		{"another key's ARN", aws.String(keyARN(testenv.Region, other)), "IncorrectKeyException"},
		{"another key's alias", aws.String("alias/other"), "IncorrectKeyException"},
		{"a key that does not exist", aws.String(unknownKey), "NotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct, KeyId: tc.keyID})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out.Plaintext) != "whose?" || aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
				t.Errorf("Decrypt = %q under %s", out.Plaintext, aws.ToString(out.KeyId))
			}
		})
	}
}

func TestDecryptRejectsBadCiphertexts(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	ct := encrypt(t, c, id, []byte("authentic"), nil)

	flip := func(i int) []byte {
		b := bytes.Clone(ct)
		b[i] ^= 0x01
		return b
	}
	cases := []struct {
		name string
		blob []byte
	}{
		{"version byte flipped", flip(0)},
		{"key id byte flipped", flip(20)},
		{"body byte flipped", flip(len(ct) / 2)},
		{"tag byte flipped", flip(len(ct) - 1)},
		{"truncated by one byte", ct[:len(ct)-1]},
		{"only the header", ct[:20]},
		{"one extra byte", append(bytes.Clone(ct), 0)},
		{"random bytes", bytes.Repeat([]byte{0x5a}, 80)},
		{"one byte", []byte{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tc.blob})
			wantCode(t, err, "InvalidCiphertextException")
		})
	}
}

// encryptionContextCases pairs the context given to Encrypt with the one
// given to Decrypt. A canonical encoding must keep every pair apart whose
// maps differ, however their concatenations look.
var encryptionContextCases = []struct {
	name     string
	enc, dec map[string]string
	ok       bool
}{
	{"same context", map[string]string{"purpose": "backup", "tenant": "42"}, map[string]string{"tenant": "42", "purpose": "backup"}, true},
	{"no context both times", nil, nil, true},
	{"empty map equals no context", nil, map[string]string{}, true},
	{`{"a":"bc"} is not {"ab":"c"}`, map[string]string{"a": "bc"}, map[string]string{"ab": "c"}, false},
	{`{"ab":"c"} is not {"a":"bc"}`, map[string]string{"ab": "c"}, map[string]string{"a": "bc"}, false},
	{`{"a":"b","c":"d"} is not {"a":"bc","":"d"}`, map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "bc", "": "d"}, false},
	{`{"a":"b=c"} is not {"a=b":"c"}`, map[string]string{"a": "b=c"}, map[string]string{"a=b": "c"}, false},
	{`{"k":"v1"} is not {"k":"v2"}`, map[string]string{"k": "v1"}, map[string]string{"k": "v2"}, false},
	{"keys are case-sensitive", map[string]string{"k": "v"}, map[string]string{"K": "v"}, false},
	{"a subset is not enough", map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1"}, false},
	{"a superset is not accepted", map[string]string{"a": "1"}, map[string]string{"a": "1", "b": "2"}, false},
	{"context given only on Encrypt", map[string]string{"a": "1"}, nil, false},
	{"context given only on Decrypt", nil, map[string]string{"a": "1"}, false},
	{"key and value swapped", map[string]string{"x": "y"}, map[string]string{"y": "x"}, false},
	{"unicode context", map[string]string{"clé": "värde ✓"}, map[string]string{"clé": "värde ✓"}, true},
}

func TestEncryptionContextBinding(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	dst := aws.ToString(newKey(t, c, "").KeyId)
	for _, tc := range encryptionContextCases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if tc.ok && err != nil {
					t.Errorf("%s: %v", what, err)
				}
				if !tc.ok {
					if err == nil {
						t.Errorf("%s accepted a different encryption context", what)
					} else if apiCode(err) != "InvalidCiphertextException" {
						t.Errorf("%s: code %s, want InvalidCiphertextException", what, apiCode(err))
					}
				}
			}
			ct := encrypt(t, c, id, []byte("bound"), tc.enc)
			dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct, EncryptionContext: tc.dec})
			check("Decrypt of Encrypt", err)
			if err == nil && string(dec.Plaintext) != "bound" {
				t.Errorf("Decrypt = %q", dec.Plaintext)
			}

			gdk := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes128, EncryptionContext: tc.enc}))
			_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: tc.dec})
			check("Decrypt of GenerateDataKey", err)

			_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: tc.dec, DestinationKeyId: aws.String(dst)})
			check("ReEncrypt source context", err)
		})
	}
}

func TestEncryptLimit(t *testing.T) {
	t.Run("default is the chapter's 1 MiB", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{})
		c := env.KMS()
		id := aws.ToString(newKey(t, c, "").KeyId)
		big := bytes.Repeat([]byte("0123456789abcdef"), (1<<20)/16)
		ct := encrypt(t, c, id, big, nil)
		dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ct}))
		if !bytes.Equal(dec.Plaintext, big) {
			t.Error("1 MiB plaintext did not round-trip")
		}
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: append(big, 'x')})
		wantCode(t, err, "ValidationException")
		if !strings.Contains(apiMessage(err), "GenerateDataKey") {
			t.Errorf("over-limit message does not point to GenerateDataKey: %q", apiMessage(err))
		}
	})
	t.Run("EncryptLimit 4096 is AWS's limit", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{EncryptLimit: 4096})
		c := env.KMS()
		id := aws.ToString(newKey(t, c, "").KeyId)
		encrypt(t, c, id, make([]byte, 4096), nil)
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 4097)})
		wantCode(t, err, "ValidationException")
		if !strings.Contains(apiMessage(err), "GenerateDataKey") {
			t.Errorf("over-limit message does not point to GenerateDataKey: %q", apiMessage(err))
		}
		// Far over the limit the body limit answers, still a 4xx.
		_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 1<<20)})
		if s := httpStatus(err); s < 400 || s > 499 {
			t.Errorf("1 MiB Encrypt under a 4096-byte limit: status %d (%v), want 4xx", s, err)
		}
	})
}

var dataKeyCases = []struct {
	name    string
	spec    types.DataKeySpec
	n       *int32
	wantLen int
	code    string
}{
	{"AES_256", types.DataKeySpecAes256, nil, 32, ""},
	{"AES_128", types.DataKeySpecAes128, nil, 16, ""},
	{"NumberOfBytes 1", "", aws.Int32(1), 1, ""},
	{"NumberOfBytes 64", "", aws.Int32(64), 64, ""},
	{"NumberOfBytes 1024", "", aws.Int32(1024), 1024, ""},
	{"NumberOfBytes 0", "", aws.Int32(0), 0, "ValidationException"},
	{"NumberOfBytes 1025", "", aws.Int32(1025), 0, "ValidationException"},
	{"NumberOfBytes -1", "", aws.Int32(-1), 0, "ValidationException"},
	{"both KeySpec and NumberOfBytes", types.DataKeySpecAes256, aws.Int32(32), 0, "ValidationException"},
	{"neither KeySpec nor NumberOfBytes", "", nil, 0, "ValidationException"},
	{"unknown KeySpec", "AES_512", nil, 0, "ValidationException"},
}

func TestGenerateDataKey(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/dk"), TargetKeyId: aws.String(id)}))
	ec := map[string]string{"file": "report.pdf"}
	for _, tc := range dataKeyCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/dk"), KeySpec: tc.spec, NumberOfBytes: tc.n, EncryptionContext: ec})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Plaintext) != tc.wantLen {
				t.Errorf("Plaintext is %d bytes, want %d", len(out.Plaintext), tc.wantLen)
			}
			if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
				t.Errorf("KeyId = %s, want the key ARN", aws.ToString(out.KeyId))
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}))
			if !bytes.Equal(dec.Plaintext, out.Plaintext) {
				t.Error("the encrypted copy does not decrypt to the plaintext copy")
			}
			out2 := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: tc.spec, NumberOfBytes: tc.n}))
			if tc.wantLen >= 16 && bytes.Equal(out2.Plaintext, out.Plaintext) {
				t.Error("two data keys are equal")
			}
		})
	}
	t.Run("unknown key", func(t *testing.T) {
		_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(unknownKey), KeySpec: types.DataKeySpecAes256})
		wantCode(t, err, "NotFoundException")
	})
}

func TestGenerateDataKeyWithoutPlaintext(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	for _, tc := range dataKeyCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(id), KeySpec: tc.spec, NumberOfBytes: tc.n})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.KeyId) != keyARN(testenv.Region, id) {
				t.Errorf("KeyId = %s", aws.ToString(out.KeyId))
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob}))
			if len(dec.Plaintext) != tc.wantLen {
				t.Errorf("the data key decrypts to %d bytes, want %d", len(dec.Plaintext), tc.wantLen)
			}
		})
	}
	t.Run("the response carries no Plaintext field", func(t *testing.T) {
		resp := rawJSON(t, env, "GenerateDataKeyWithoutPlaintext", map[string]any{"KeyId": id, "KeySpec": "AES_256"})
		if resp.Status != http.StatusOK {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		if bytes.Contains(resp.Body, []byte(`"Plaintext"`)) {
			t.Errorf("response has a Plaintext field: %s", resp.Body)
		}
	})
}

func TestGenerateRandom(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	for _, n := range []int32{1, 32, 1024} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			a := must[*kms.GenerateRandomOutput](t)(c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(n)}))
			if len(a.Plaintext) != int(n) {
				t.Fatalf("got %d bytes", len(a.Plaintext))
			}
			if n >= 16 {
				b := must[*kms.GenerateRandomOutput](t)(c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(n)}))
				if bytes.Equal(a.Plaintext, b.Plaintext) {
					t.Error("two calls returned the same bytes")
				}
			}
		})
	}
	for _, n := range []*int32{aws.Int32(0), aws.Int32(1025), aws.Int32(-5), nil} {
		name := "missing NumberOfBytes"
		if n != nil {
			name = fmt.Sprintf("%d bytes is refused", *n)
		}
		t.Run(name, func(t *testing.T) {
			_, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: n})
			wantCode(t, err, "ValidationException")
		})
	}
}

func TestReEncrypt(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	src := aws.ToString(newKey(t, c, "src").KeyId)
	dst := aws.ToString(newKey(t, c, "dst").KeyId)
	srcEC := map[string]string{"stage": "old"}
	dstEC := map[string]string{"stage": "new"}
	ct := encrypt(t, c, src, []byte("moving"), srcEC)

	out := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob: ct, SourceEncryptionContext: srcEC,
		DestinationKeyId: aws.String(dst), DestinationEncryptionContext: dstEC,
	}))
	if aws.ToString(out.SourceKeyId) != keyARN(testenv.Region, src) || aws.ToString(out.KeyId) != keyARN(testenv.Region, dst) {
		t.Errorf("SourceKeyId %s, KeyId %s", aws.ToString(out.SourceKeyId), aws.ToString(out.KeyId))
	}
	if out.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || out.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Errorf("algorithms %q -> %q", out.SourceEncryptionAlgorithm, out.DestinationEncryptionAlgorithm)
	}
	dec := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: dstEC}))
	if string(dec.Plaintext) != "moving" || aws.ToString(dec.KeyId) != keyARN(testenv.Region, dst) {
		t.Errorf("re-encrypted blob decrypts to %q under %s", dec.Plaintext, aws.ToString(dec.KeyId))
	}
	_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: srcEC})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, KeyId: aws.String(src), EncryptionContext: dstEC})
	wantCode(t, err, "IncorrectKeyException")

	t.Run("to the same key", func(t *testing.T) {
		again := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: srcEC, DestinationKeyId: aws.String(src)}))
		if bytes.Equal(again.CiphertextBlob, ct) {
			t.Error("ReEncrypt returned the same blob")
		}
		if got := must[*kms.DecryptOutput](t)(c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: again.CiphertextBlob})).Plaintext; string(got) != "moving" {
			t.Errorf("decrypts to %q", got)
		}
	})
	errs := []struct {
		name string
		in   kms.ReEncryptInput
		code string
	}{
		{"SourceKeyId of another key", kms.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: srcEC, SourceKeyId: aws.String(dst), DestinationKeyId: aws.String(dst)}, "IncorrectKeyException"},
		{"wrong source context", kms.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: dstEC, DestinationKeyId: aws.String(dst)}, "InvalidCiphertextException"},
		{"tampered ciphertext", kms.ReEncryptInput{CiphertextBlob: ct[:len(ct)-1], SourceEncryptionContext: srcEC, DestinationKeyId: aws.String(dst)}, "InvalidCiphertextException"},
		{"unknown destination", kms.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: srcEC, DestinationKeyId: aws.String(unknownKey)}, "NotFoundException"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ReEncrypt(ctx, &tc.in)
			wantCode(t, err, tc.code)
		})
	}
}

// TestDryRun checks that DryRun answers DryRunOperationException (HTTP 412)
// when the call would have succeeded, and the real error when it would not.
func TestDryRun(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	disabled := aws.ToString(newKey(t, c, "").KeyId)
	ct := encrypt(t, c, id, []byte("dry"), nil)
	disabledCT := encrypt(t, c, disabled, []byte("dry"), nil)
	must[*kms.DisableKeyOutput](t)(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}))

	ops := []struct {
		name string
		call func(key string, blob []byte) error
	}{
		{"Encrypt", func(key string, _ []byte) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x"), DryRun: aws.Bool(true)})
			return err
		}},
		{"Decrypt", func(_ string, blob []byte) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, DryRun: aws.Bool(true)})
			return err
		}},
		{"ReEncrypt", func(key string, blob []byte) error {
			_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, DestinationKeyId: aws.String(key), DryRun: aws.Bool(true)})
			return err
		}},
		{"GenerateDataKey", func(key string, _ []byte) error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)})
			return err
		}},
		{"GenerateDataKeyWithoutPlaintext", func(key string, _ []byte) error {
			_, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(key), KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)})
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name+" that would succeed", func(t *testing.T) {
			err := op.call(id, ct)
			wantCode(t, err, "DryRunOperationException")
			if s := httpStatus(err); s != http.StatusPreconditionFailed {
				t.Errorf("status %d, want 412", s)
			}
		})
		t.Run(op.name+" on a disabled key", func(t *testing.T) {
			wantCode(t, op.call(disabled, disabledCT), "DisabledException")
		})
	}
	t.Run("DryRun false runs the call", func(t *testing.T) {
		out := must[*kms.EncryptOutput](t)(c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x"), DryRun: aws.Bool(false)}))
		if len(out.CiphertextBlob) == 0 {
			t.Error("no ciphertext")
		}
	})
}
