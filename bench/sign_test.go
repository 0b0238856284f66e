// Package bench measures the whole service through the wire: a real
// testenv server (loopback HTTP, SigV4, the kms core, the memory store) and
// the AWS SDK for Go as the client. Run with
//
//	go test -run '^$' -bench . ./bench/
//
// Figures include SigV4 signing and verification, JSON, authorization and
// the key's cached, already-parsed material.
package bench

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

func BenchmarkSignECCP256(b *testing.B) {
	benchmarkSign(b, types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256)
}

func BenchmarkSignRSA2048(b *testing.B) {
	benchmarkSign(b, types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256)
}

// benchmarkSign signs a 32-byte RAW message with a key of spec from
// parallel clients and reports operations per second.
func benchmarkSign(b *testing.B, spec types.KeySpec, alg types.SigningAlgorithmSpec) {
	ctx := context.Background()
	env := testenv.Start(b, testenv.Options{})
	c := env.KMS()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		b.Fatal(err)
	}
	in := &kms.SignInput{KeyId: out.KeyMetadata.KeyId, Message: make([]byte, 32), SigningAlgorithm: alg}
	// One call outside the timer: it unseals and parses the key.
	if _, err := c.Sign(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Sign(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
