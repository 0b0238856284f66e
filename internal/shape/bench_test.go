package shape

import (
	"encoding/base64"
	"testing"
)

// encryptBody is a typical Encrypt request: a key ARN, 64 bytes of
// plaintext and an encryption context.
var encryptBody = []byte(`{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",` +
	`"Plaintext":"` + base64.StdEncoding.EncodeToString(make([]byte, 64)) + `",` +
	`"EncryptionContext":{"tenant":"t-42","purpose":"session"}}`)

func BenchmarkValidateEncrypt(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(encryptBody)))
	for b.Loop() {
		if err := ValidateJSON(KMS, "Encrypt", encryptBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateCreateKey(b *testing.B) {
	body := []byte(`{"Description":"payments","KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT","MultiRegion":false,` +
		`"Tags":[{"TagKey":"team","TagValue":"payments"},{"TagKey":"env","TagValue":"prod"}],"Policy":null}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateJSON(KMS, "CreateKey", body); err != nil {
			b.Fatal(err)
		}
	}
}
