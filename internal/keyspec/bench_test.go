package keyspec

import "testing"

func benchmarkSign(b *testing.B, spec Spec, alg Algorithm) {
	k := testKey(b, spec, SignVerify)
	msg := []byte("a message of modest length, as most signing requests are")
	for b.Loop() {
		if _, err := k.Sign(alg, Raw, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignECCNISTP256(b *testing.B) { benchmarkSign(b, ECCNISTP256, ECDSASHA256) }
func BenchmarkSignRSA2048PSS(b *testing.B)  { benchmarkSign(b, RSA2048, RSASSAPSSSHA256) }
func BenchmarkSignEd25519(b *testing.B)     { benchmarkSign(b, ECCNISTEdwards25519, Ed25519SHA512) }
func BenchmarkSignMLDSA65(b *testing.B)     { benchmarkSign(b, MLDSA65, MLDSASHAKE256) }
func BenchmarkSignSecp256k1(b *testing.B)   { benchmarkSign(b, ECCSECGP256K1, ECDSASHA256) }

// BenchmarkLoadRSA2048 is the cost a cache of parsed keys saves per call.
func BenchmarkLoadRSA2048(b *testing.B) {
	m := testMaterial(b, RSA2048)
	for b.Loop() {
		if _, err := Load(RSA2048, SignVerify, m); err != nil {
			b.Fatal(err)
		}
	}
}
