package keyspec

import (
	"crypto"
	"crypto/elliptic"
	_ "crypto/sha1" // hashes the algorithms name
	_ "crypto/sha256"
	_ "crypto/sha512"
	"slices"
)

// Spec is an AWS KMS key spec, such as "RSA_2048" (KeySpec in CreateKey and
// DescribeKey).
type Spec string

// The key specs of the AWS KMS API. SM2 is known but refused: AWS offers it
// only in its China regions.
const (
	SymmetricDefault    Spec = "SYMMETRIC_DEFAULT"
	RSA2048             Spec = "RSA_2048"
	RSA3072             Spec = "RSA_3072"
	RSA4096             Spec = "RSA_4096"
	ECCNISTP256         Spec = "ECC_NIST_P256"
	ECCNISTP384         Spec = "ECC_NIST_P384"
	ECCNISTP521         Spec = "ECC_NIST_P521"
	ECCSECGP256K1       Spec = "ECC_SECG_P256K1"
	ECCNISTEdwards25519 Spec = "ECC_NIST_EDWARDS25519"
	MLDSA44             Spec = "ML_DSA_44"
	MLDSA65             Spec = "ML_DSA_65"
	MLDSA87             Spec = "ML_DSA_87"
	HMAC224             Spec = "HMAC_224"
	HMAC256             Spec = "HMAC_256"
	HMAC384             Spec = "HMAC_384"
	HMAC512             Spec = "HMAC_512"
	SM2                 Spec = "SM2"
)

// Usage is an AWS KMS key usage (KeyUsage).
type Usage string

// The key usages of the AWS KMS API.
const (
	EncryptDecrypt    Usage = "ENCRYPT_DECRYPT"
	SignVerify        Usage = "SIGN_VERIFY"
	GenerateVerifyMAC Usage = "GENERATE_VERIFY_MAC"
	KeyAgreement      Usage = "KEY_AGREEMENT"
)

// MessageType says what the message of Sign and Verify is (MessageType).
// The empty MessageType means RAW, AWS's default.
type MessageType string

// The message types of the AWS KMS API.
const (
	Raw        MessageType = "RAW"
	Digest     MessageType = "DIGEST"
	ExternalMu MessageType = "EXTERNAL_MU"
)

// Algorithm is an encryption, signing, MAC or key agreement algorithm name
// exactly as it appears on the wire.
type Algorithm string

// Every algorithm of the AWS KMS API. SM2PKE and SM2DSA are known (so they
// are refused as InvalidKeyUsageException rather than ValidationException)
// but no key here supports them.
const (
	SymmetricDefaultAlgorithm Algorithm = "SYMMETRIC_DEFAULT"
	RSAESOAEPSHA1             Algorithm = "RSAES_OAEP_SHA_1"
	RSAESOAEPSHA256           Algorithm = "RSAES_OAEP_SHA_256"
	SM2PKE                    Algorithm = "SM2PKE"

	RSASSAPSSSHA256      Algorithm = "RSASSA_PSS_SHA_256"
	RSASSAPSSSHA384      Algorithm = "RSASSA_PSS_SHA_384"
	RSASSAPSSSHA512      Algorithm = "RSASSA_PSS_SHA_512"
	RSASSAPKCS1v15SHA256 Algorithm = "RSASSA_PKCS1_V1_5_SHA_256"
	RSASSAPKCS1v15SHA384 Algorithm = "RSASSA_PKCS1_V1_5_SHA_384"
	RSASSAPKCS1v15SHA512 Algorithm = "RSASSA_PKCS1_V1_5_SHA_512"
	ECDSASHA256          Algorithm = "ECDSA_SHA_256"
	ECDSASHA384          Algorithm = "ECDSA_SHA_384"
	ECDSASHA512          Algorithm = "ECDSA_SHA_512"
	Ed25519SHA512        Algorithm = "ED25519_SHA_512"
	Ed25519PHSHA512      Algorithm = "ED25519_PH_SHA_512"
	MLDSASHAKE256        Algorithm = "ML_DSA_SHAKE_256"
	SM2DSA               Algorithm = "SM2DSA"

	HMACSHA224 Algorithm = "HMAC_SHA_224"
	HMACSHA256 Algorithm = "HMAC_SHA_256"
	HMACSHA384 Algorithm = "HMAC_SHA_384"
	HMACSHA512 Algorithm = "HMAC_SHA_512"

	ECDH Algorithm = "ECDH"
)

// Limits of the AWS KMS API that this package enforces.
const (
	// MaxMessage is the largest RAW message of Sign and Verify, and the
	// largest message of GenerateMac and VerifyMac.
	MaxMessage = 4096
	// MaxSymmetricPlaintext is the largest plaintext of Encrypt with a
	// SYMMETRIC_DEFAULT key.
	MaxSymmetricPlaintext = 4096
)

type algClass uint8

const (
	classEncrypt algClass = iota + 1
	classSign
	classMAC
	classAgree
)

type algorithmInfo struct {
	class algClass
	hash  crypto.Hash // the hash of RSA, ECDSA, Ed25519 and HMAC algorithms
	pss   bool
}

var algorithmTable = map[Algorithm]algorithmInfo{
	SymmetricDefaultAlgorithm: {class: classEncrypt},
	RSAESOAEPSHA1:             {class: classEncrypt, hash: crypto.SHA1},
	RSAESOAEPSHA256:           {class: classEncrypt, hash: crypto.SHA256},
	SM2PKE:                    {class: classEncrypt},

	RSASSAPSSSHA256:      {class: classSign, hash: crypto.SHA256, pss: true},
	RSASSAPSSSHA384:      {class: classSign, hash: crypto.SHA384, pss: true},
	RSASSAPSSSHA512:      {class: classSign, hash: crypto.SHA512, pss: true},
	RSASSAPKCS1v15SHA256: {class: classSign, hash: crypto.SHA256},
	RSASSAPKCS1v15SHA384: {class: classSign, hash: crypto.SHA384},
	RSASSAPKCS1v15SHA512: {class: classSign, hash: crypto.SHA512},
	ECDSASHA256:          {class: classSign, hash: crypto.SHA256},
	ECDSASHA384:          {class: classSign, hash: crypto.SHA384},
	ECDSASHA512:          {class: classSign, hash: crypto.SHA512},
	Ed25519SHA512:        {class: classSign, hash: crypto.SHA512},
	Ed25519PHSHA512:      {class: classSign, hash: crypto.SHA512},
	MLDSASHAKE256:        {class: classSign},
	SM2DSA:               {class: classSign},

	HMACSHA224: {class: classMAC, hash: crypto.SHA224},
	HMACSHA256: {class: classMAC, hash: crypto.SHA256},
	HMACSHA384: {class: classMAC, hash: crypto.SHA384},
	HMACSHA512: {class: classMAC, hash: crypto.SHA512},

	ECDH: {class: classAgree},
}

// Algorithms lists what DescribeKey and GetPublicKey report for a key: the
// lists that do not apply are nil, so that they are omitted.
type Algorithms struct {
	Encryption   []Algorithm // EncryptionAlgorithms
	Signing      []Algorithm // SigningAlgorithms
	MAC          []Algorithm // MacAlgorithms
	KeyAgreement []Algorithm // KeyAgreementAlgorithms
}

func (a Algorithms) clone() Algorithms {
	return Algorithms{
		Encryption:   slices.Clone(a.Encryption),
		Signing:      slices.Clone(a.Signing),
		MAC:          slices.Clone(a.MAC),
		KeyAgreement: slices.Clone(a.KeyAgreement),
	}
}

// contains reports whether alg is one of the key's algorithms.
func (a Algorithms) contains(alg Algorithm) bool {
	return slices.Contains(a.Encryption, alg) || slices.Contains(a.Signing, alg) ||
		slices.Contains(a.MAC, alg) || slices.Contains(a.KeyAgreement, alg)
}

type kind uint8

const (
	kindSymmetric kind = iota + 1
	kindHMAC
	kindRSA
	kindNIST // ECDSA and ECDH on the NIST curves
	kindSecp256k1
	kindEd25519
	kindMLDSA
)

// Info describes one key spec: which usages it allows and which algorithms
// each usage brings. Infos are immutable and shared.
type Info struct {
	spec  Spec
	kind  kind
	bits  int            // RSA modulus size; HMAC generated key size
	curve elliptic.Curve // kindNIST
	hash  crypto.Hash    // kindHMAC
	ml    *mldsaScheme   // kindMLDSA
	algs  map[Usage]Algorithms
	order []Usage // the keys of algs, in AWS's order
}

var (
	rsaEncryption = []Algorithm{RSAESOAEPSHA1, RSAESOAEPSHA256}
	rsaSigning    = []Algorithm{
		RSASSAPKCS1v15SHA256, RSASSAPKCS1v15SHA384, RSASSAPKCS1v15SHA512,
		RSASSAPSSSHA256, RSASSAPSSSHA384, RSASSAPSSSHA512,
	}
	ecdhOnly = []Algorithm{ECDH}
)

func rsaInfo(spec Spec, bits int) *Info {
	return &Info{spec: spec, kind: kindRSA, bits: bits, order: []Usage{EncryptDecrypt, SignVerify},
		algs: map[Usage]Algorithms{EncryptDecrypt: {Encryption: rsaEncryption}, SignVerify: {Signing: rsaSigning}}}
}

func nistInfo(spec Spec, curve elliptic.Curve, sig Algorithm) *Info {
	return &Info{spec: spec, kind: kindNIST, curve: curve, order: []Usage{SignVerify, KeyAgreement},
		algs: map[Usage]Algorithms{SignVerify: {Signing: []Algorithm{sig}}, KeyAgreement: {KeyAgreement: ecdhOnly}}}
}

func hmacInfo(spec Spec, hash crypto.Hash, alg Algorithm) *Info {
	return &Info{spec: spec, kind: kindHMAC, hash: hash, bits: hash.Size() * 8, order: []Usage{GenerateVerifyMAC},
		algs: map[Usage]Algorithms{GenerateVerifyMAC: {MAC: []Algorithm{alg}}}}
}

func mldsaInfo(spec Spec, ml *mldsaScheme) *Info {
	return &Info{spec: spec, kind: kindMLDSA, ml: ml, order: []Usage{SignVerify},
		algs: map[Usage]Algorithms{SignVerify: {Signing: []Algorithm{MLDSASHAKE256}}}}
}

var specTable = map[Spec]*Info{
	SymmetricDefault: {spec: SymmetricDefault, kind: kindSymmetric, bits: 256, order: []Usage{EncryptDecrypt},
		algs: map[Usage]Algorithms{EncryptDecrypt: {Encryption: []Algorithm{SymmetricDefaultAlgorithm}}}},
	RSA2048:     rsaInfo(RSA2048, 2048),
	RSA3072:     rsaInfo(RSA3072, 3072),
	RSA4096:     rsaInfo(RSA4096, 4096),
	ECCNISTP256: nistInfo(ECCNISTP256, elliptic.P256(), ECDSASHA256),
	ECCNISTP384: nistInfo(ECCNISTP384, elliptic.P384(), ECDSASHA384),
	ECCNISTP521: nistInfo(ECCNISTP521, elliptic.P521(), ECDSASHA512),
	ECCSECGP256K1: {spec: ECCSECGP256K1, kind: kindSecp256k1, order: []Usage{SignVerify},
		algs: map[Usage]Algorithms{SignVerify: {Signing: []Algorithm{ECDSASHA256}}}},
	ECCNISTEdwards25519: {spec: ECCNISTEdwards25519, kind: kindEd25519, order: []Usage{SignVerify},
		algs: map[Usage]Algorithms{SignVerify: {Signing: []Algorithm{Ed25519SHA512, Ed25519PHSHA512}}}},
	MLDSA44: mldsaInfo(MLDSA44, mldsa44Scheme),
	MLDSA65: mldsaInfo(MLDSA65, mldsa65Scheme),
	MLDSA87: mldsaInfo(MLDSA87, mldsa87Scheme),
	HMAC224: hmacInfo(HMAC224, crypto.SHA224, HMACSHA224),
	HMAC256: hmacInfo(HMAC256, crypto.SHA256, HMACSHA256),
	HMAC384: hmacInfo(HMAC384, crypto.SHA384, HMACSHA384),
	HMAC512: hmacInfo(HMAC512, crypto.SHA512, HMACSHA512),
}

// Lookup returns the rules of a key spec. An unknown spec is a
// ValidationException; SM2 is an UnsupportedOperationException, as AWS
// answers outside its China regions.
func Lookup(spec string) (*Info, error) {
	if i, ok := specTable[Spec(spec)]; ok {
		return i, nil
	}
	if Spec(spec) == SM2 {
		return nil, &Error{CodeUnsupportedOperation, "KeySpec SM2 is not supported in this Region"}
	}
	return nil, validationf("unknown KeySpec %q", spec)
}

func mustLookup(spec Spec) *Info {
	i, err := Lookup(string(spec))
	if err != nil {
		panic(err)
	}
	return i
}

// Spec returns the key spec.
func (i *Info) Spec() Spec { return i.spec }

// Asymmetric reports whether keys of this spec are key pairs (and so have a
// public key for GetPublicKey).
func (i *Info) Asymmetric() bool { return i.kind != kindSymmetric && i.kind != kindHMAC }

// Usages returns the key usages the spec allows, in AWS's documented order.
func (i *Info) Usages() []Usage { return slices.Clone(i.order) }

// DefaultUsage is the usage CreateKey assumes when KeyUsage is omitted:
// ENCRYPT_DECRYPT for every spec, which CheckUsage then refuses for specs
// that cannot encrypt (AWS requires KeyUsage for them).
func (i *Info) DefaultUsage() Usage { return EncryptDecrypt }

// CheckUsage returns nil if keys of this spec may be created with the
// usage, and a ValidationException (what CreateKey answers) otherwise.
func (i *Info) CheckUsage(usage Usage) error {
	if _, ok := i.algs[usage]; ok {
		return nil
	}
	switch usage {
	case EncryptDecrypt, SignVerify, GenerateVerifyMAC, KeyAgreement:
		return validationf("KeyUsage %s is not compatible with KeySpec %s", usage, i.spec)
	}
	return validationf("unknown KeyUsage %q", usage)
}

// ResolveUsage applies the default to an omitted (empty) usage and checks
// the result, as CreateKey does.
func (i *Info) ResolveUsage(usage string) (Usage, error) {
	u := Usage(usage)
	if u == "" {
		u = i.DefaultUsage()
	}
	if err := i.CheckUsage(u); err != nil {
		return "", err
	}
	return u, nil
}

// Algorithms returns the algorithms a key of this spec and usage supports,
// exactly as DescribeKey reports them. It returns the zero Algorithms for a
// usage the spec does not allow. The slices are the caller's.
func (i *Info) Algorithms(usage Usage) Algorithms {
	return i.algs[usage].clone()
}

// MaxPlaintext returns the largest plaintext Encrypt accepts for the
// algorithm with a key of this spec, or 0 if the key cannot encrypt with
// it. For RSA it is AWS's documented limit, the OAEP bound k − 2·hLen − 2:
// RSA_2048 214 and 190 bytes (SHA-1, SHA-256), RSA_3072 342 and 318,
// RSA_4096 470 and 446.
func (i *Info) MaxPlaintext(alg Algorithm) int {
	if !slices.Contains(i.algs[EncryptDecrypt].Encryption, alg) {
		return 0
	}
	if i.kind == kindSymmetric {
		return MaxSymmetricPlaintext
	}
	return i.bits/8 - 2*algorithmTable[alg].hash.Size() - 2
}

// checkAlgorithm checks alg for an operation of class class on a key of
// this spec and usage: an algorithm outside AWS's enumeration is a
// ValidationException; a known one the key's usage or spec does not allow is
// an InvalidKeyUsageException, as is a key whose usage is not want.
func (i *Info) checkAlgorithm(usage, want Usage, class algClass, alg Algorithm) (algorithmInfo, error) {
	ai, ok := algorithmTable[alg]
	if !ok || ai.class != class {
		return ai, validationf("unknown %s %q", classParam[class], alg)
	}
	if usage != want {
		return ai, usagef("this operation needs a key with KeyUsage %s; the key's is %s", want, usage)
	}
	if !i.algs[usage].contains(alg) {
		return ai, usagef("%s is not a valid %s for KeySpec %s", alg, classParam[class], i.spec)
	}
	return ai, nil
}

var classParam = map[algClass]string{
	classEncrypt: "EncryptionAlgorithm",
	classSign:    "SigningAlgorithm",
	classMAC:     "MacAlgorithm",
	classAgree:   "KeyAgreementAlgorithm",
}
