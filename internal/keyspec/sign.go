package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"fmt"

	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"strongroom/internal/keyspec/internal/mldsa"
)

// signInput is the message of Sign and Verify after the AWS rules on
// message types: what the primitive signs.
type signInput struct {
	data []byte // digest (RSA, ECDSA), message (Ed25519, ML-DSA RAW), prehash (Ed25519ph) or μ
	mu   bool   // data is ML-DSA's μ (EXTERNAL_MU)
}

// prepare applies the AWS rules on MessageType:
//   - RSASSA_* and ECDSA_*: RAW (hashed here with the algorithm's hash) or
//     DIGEST (already hashed: its length must be the hash's);
//   - ED25519_SHA_512: RAW only (pure Ed25519);
//   - ED25519_PH_SHA_512: DIGEST only, 64 bytes, which Ed25519ph then
//     hashes again as its prehash (FIPS 186-5, 7.8.1 step 1), as AWS does;
//   - ML_DSA_SHAKE_256: RAW or EXTERNAL_MU (the 64-byte μ of FIPS 204).
//
// A RAW message has 1 to 4096 bytes. Every breach is a ValidationException.
func prepare(info *Info, alg Algorithm, ai algorithmInfo, mt MessageType, msg []byte) (signInput, error) {
	if mt == "" {
		mt = Raw
	}
	switch mt {
	case Raw, Digest, ExternalMu:
	default:
		return signInput{}, validationf("unknown MessageType %q", mt)
	}
	var allowed []MessageType
	switch alg {
	case Ed25519SHA512:
		allowed = []MessageType{Raw}
	case Ed25519PHSHA512:
		allowed = []MessageType{Digest}
	case MLDSASHAKE256:
		allowed = []MessageType{Raw, ExternalMu}
	default:
		allowed = []MessageType{Raw, Digest}
	}
	if !containsType(allowed, mt) {
		return signInput{}, validationf("Message type %s is incompatible with signing algorithm %s and key spec %s", mt, alg, info.spec)
	}
	switch mt {
	case Raw:
		if len(msg) < 1 || len(msg) > MaxMessage {
			return signInput{}, validationf("a RAW message must have 1 to %d bytes; it has %d", MaxMessage, len(msg))
		}
		if alg == Ed25519SHA512 || alg == MLDSASHAKE256 {
			return signInput{data: msg}, nil
		}
		h := ai.hash.New()
		h.Write(msg)
		return signInput{data: h.Sum(nil)}, nil
	case Digest:
		if len(msg) != ai.hash.Size() {
			return signInput{}, validationf("a DIGEST for %s must have %d bytes; it has %d", alg, ai.hash.Size(), len(msg))
		}
		if alg == Ed25519PHSHA512 {
			ph := sha512.Sum512(msg)
			return signInput{data: ph[:]}, nil
		}
		return signInput{data: msg}, nil
	default: // ExternalMu
		if len(msg) != mldsa.MuSize {
			return signInput{}, validationf("an EXTERNAL_MU message must have %d bytes; it has %d", mldsa.MuSize, len(msg))
		}
		return signInput{data: msg, mu: true}, nil
	}
}

func containsType(ts []MessageType, t MessageType) bool {
	for _, u := range ts {
		if u == t {
			return true
		}
	}
	return false
}

// Sign signs msg with the algorithm, as the Sign operation does. mt is the
// MessageType (empty means RAW); see the package documentation for what
// each algorithm takes. Signatures are in AWS's formats: PKCS #1 (RFC 8017)
// for RSA, with PSS salt as long as the hash; DER Ecdsa-Sig-Value for ECDSA
// (secp256k1 signatures have low S); 64 bytes for Ed25519; FIPS 204
// encoding for ML-DSA (hedged, empty context).
//
// An algorithm outside AWS's enumeration or a malformed message is a
// ValidationException; a key whose usage is not SIGN_VERIFY, or an
// algorithm its spec does not support, an InvalidKeyUsageException.
func (k *Key) Sign(alg Algorithm, mt MessageType, msg []byte) ([]byte, error) {
	ai, err := k.info.checkAlgorithm(k.usage, SignVerify, classSign, alg)
	if err != nil {
		return nil, err
	}
	in, err := prepare(k.info, alg, ai, mt, msg)
	if err != nil {
		return nil, err
	}
	switch k.info.kind {
	case kindRSA:
		if ai.pss {
			return rsa.SignPSS(rand.Reader, k.rsa, ai.hash, in.data, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(nil, k.rsa, ai.hash, in.data)
	case kindNIST:
		return ecdsa.SignASN1(rand.Reader, k.ec, in.data)
	case kindSecp256k1:
		return k1ecdsa.Sign(k.k1, in.data).Serialize(), nil
	case kindEd25519:
		if alg == Ed25519PHSHA512 {
			return k.ed.Sign(nil, in.data, &ed25519.Options{Hash: crypto.SHA512})
		}
		return ed25519.Sign(k.ed, in.data), nil
	case kindMLDSA:
		if in.mu {
			return mldsa.SignMu(k.info.ml.params, k.mlExpanded, in.data, randomBytes(mldsa.RandomSize))
		}
		sig := make([]byte, k.info.ml.params.SignatureSize())
		if err := k.info.ml.signTo(k.ml, in.data, sig); err != nil {
			return nil, fmt.Errorf("keyspec: ML-DSA signing: %w", err)
		}
		return sig, nil
	}
	panic("keyspec: no signer for " + string(k.info.spec))
}

// Verify reports whether sig is a valid signature of msg under the key, as
// the Verify operation does. The message type need not be the one used to
// sign, but must describe msg. Errors are as for Sign; a signature that
// does not verify, malformed or not, is (false, nil), which the Verify
// operation reports as KMSInvalidSignatureException.
func (k *Key) Verify(alg Algorithm, mt MessageType, msg, sig []byte) (bool, error) {
	if k.pub == nil {
		if _, err := k.info.checkAlgorithm(k.usage, SignVerify, classSign, alg); err != nil {
			return false, err
		}
		panic("keyspec: symmetric key with usage SIGN_VERIFY")
	}
	return k.pub.Verify(alg, mt, msg, sig)
}

// Verify is Key.Verify with the public key alone.
func (p *PublicKey) Verify(alg Algorithm, mt MessageType, msg, sig []byte) (bool, error) {
	ai, err := p.info.checkAlgorithm(p.usage, SignVerify, classSign, alg)
	if err != nil {
		return false, err
	}
	in, err := prepare(p.info, alg, ai, mt, msg)
	if err != nil {
		return false, err
	}
	switch p.info.kind {
	case kindRSA:
		if ai.pss {
			return rsa.VerifyPSS(p.rsa, ai.hash, in.data, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil, nil
		}
		return rsa.VerifyPKCS1v15(p.rsa, ai.hash, in.data, sig) == nil, nil
	case kindNIST:
		return ecdsa.VerifyASN1(p.ec, in.data, sig), nil
	case kindSecp256k1:
		s, err := k1ecdsa.ParseDERSignature(sig)
		if err != nil {
			return false, nil
		}
		return s.Verify(in.data, p.k1), nil
	case kindEd25519:
		if alg == Ed25519PHSHA512 {
			return ed25519.VerifyWithOptions(p.ed, in.data, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil, nil
		}
		return ed25519.Verify(p.ed, in.data, sig), nil
	case kindMLDSA:
		if in.mu {
			return mldsa.VerifyMu(p.info.ml.params, p.mlRaw, in.data, sig), nil
		}
		return p.info.ml.scheme.Verify(p.ml, in.data, sig, nil), nil
	}
	panic("keyspec: no verifier for " + string(p.info.spec))
}
