package keyspec_test

import (
	"errors"
	"fmt"

	"strongroom/internal/keyspec"
)

func Example() {
	// CreateKey: check the spec and usage, generate material, seal and
	// store it (sealing is the caller's business).
	info, err := keyspec.Lookup("ECC_NIST_P256")
	if err != nil {
		panic(err)
	}
	usage, err := info.ResolveUsage("SIGN_VERIFY")
	if err != nil {
		panic(err)
	}
	material, err := keyspec.Generate(info.Spec())
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Algorithms(usage).Signing)

	// Sign: unseal, Load once, keep the *Key in a cache.
	key, err := keyspec.Load(info.Spec(), usage, material)
	if err != nil {
		panic(err)
	}
	sig, err := key.Sign(keyspec.ECDSASHA256, keyspec.Raw, []byte("hello"))
	if err != nil {
		panic(err)
	}
	ok, err := key.Verify(keyspec.ECDSASHA256, keyspec.Raw, []byte("hello"), sig)
	fmt.Println(ok, err)

	// Errors carry their AWS code.
	_, err = key.Sign(keyspec.ECDSASHA384, keyspec.Raw, []byte("hello"))
	var e *keyspec.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code())
	}
	// Output:
	// [ECDSA_SHA_256]
	// true <nil>
	// InvalidKeyUsageException
}
