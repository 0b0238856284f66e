package e2e

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"strongroom/internal/testenv"
)

var ctx = context.Background()

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSmokeCreateEncryptDecrypt(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	md := ck.KeyMetadata
	if md.KeyState != types.KeyStateEnabled || *md.Description != "demo" || md.KeySpec != types.KeySpecSymmetricDefault {
		t.Fatalf("metadata = %+v", md)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/demo"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/demo"), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"purpose": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gdk.Plaintext) != 32 || *gdk.KeyId != *md.Arn {
		t.Fatalf("GenerateDataKey = %d bytes, key %s", len(gdk.Plaintext), *gdk.KeyId)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Plaintext, gdk.Plaintext) || *dec.KeyId != *md.Arn {
		t.Fatal("Decrypt returned a different data key")
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "tes"}})
	if apiCode(err) != "InvalidCiphertextException" {
		t.Fatalf("wrong context: %v", err)
	}
}
