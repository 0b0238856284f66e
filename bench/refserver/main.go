// Command refserver is the ceiling Strongroom is measured against: a bare
// net/http server that speaks just enough of the KMS JSON 1.1 protocol for
// the load generator. It reads each request body, decodes it with
// encoding/json into the operation's request shape, and answers a fixed,
// valid response of the size the real one would have. It verifies no
// signature, evaluates no policy, stores nothing and records nothing, and
// does no cryptography but one: a Sign with RSASSA_PSS_SHA_256 is signed
// with Go's own rsa.SignPSS (RSA-2048), since issue 7 measures Sign
// RSA-2048 against that cost plus the HTTP floor, and this way the floor
// is measured in the same rounds, under the same load, as Strongroom.
// Whatever Strongroom spends beyond it is the cost of being a KMS.
//
//	refserver -listen 127.0.0.1:4600
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	keyID  = "1234abcd-12ab-34cd-56ef-1234567890ab"
	keyARN = "arn:aws:kms:us-east-1:111122223333:key/" + keyID
	// blobOverhead is a Strongroom ciphertext blob's size minus its
	// plaintext's, for a 36-character key id.
	blobOverhead = 1 + 12 + 1 + 36 + 4 + 16 + 12 + 16
)

// The request shapes, as a plain Go server would declare them.
type (
	encryptInput struct {
		KeyId               string
		Plaintext           []byte
		EncryptionContext   map[string]string
		GrantTokens         []string
		EncryptionAlgorithm string
	}
	decryptInput struct {
		CiphertextBlob      []byte
		EncryptionContext   map[string]string
		GrantTokens         []string
		KeyId               string
		EncryptionAlgorithm string
	}
	generateDataKeyInput struct {
		KeyId             string
		EncryptionContext map[string]string
		NumberOfBytes     *int32
		KeySpec           string
		GrantTokens       []string
	}
	signInput struct {
		KeyId            string
		Message          []byte
		MessageType      string
		GrantTokens      []string
		SigningAlgorithm string
	}
	createKeyInput struct {
		Policy      *string
		Description *string
		KeyUsage    *string
		KeySpec     *string
		Origin      *string
		Tags        []struct{ TagKey, TagValue string }
		MultiRegion bool
	}
)

// responses of a given size, built once.
var (
	mu        sync.Mutex
	encrypted = map[int][]byte{}
	decrypted = map[int][]byte{}
)

func cached(m map[int][]byte, n int, build func(int) []byte) []byte {
	mu.Lock()
	defer mu.Unlock()
	b, ok := m[n]
	if !ok {
		b = build(n)
		m[n] = b
	}
	return b
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func encryptResponse(n int) []byte {
	return []byte(`{"CiphertextBlob":"` + random(n+blobOverhead) + `","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"` + keyARN + `","KeyMaterialId":"` + strings.Repeat("ab", 32) + `"}`)
}

func decryptResponse(n int) []byte {
	return []byte(`{"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"` + keyARN + `","KeyMaterialId":"` + strings.Repeat("ab", 32) + `","Plaintext":"` + random(n) + `"}`)
}

var (
	dataKeyResponse = []byte(`{"CiphertextBlob":"` + random(32+blobOverhead) + `","KeyId":"` + keyARN + `","KeyMaterialId":"` + strings.Repeat("ab", 32) + `","Plaintext":"` + random(32) + `"}`)
	signResponse    = []byte(`{"KeyId":"` + keyARN + `","Signature":"` + random(71) + `","SigningAlgorithm":"ECDSA_SHA_256"}`)
	rsaSignResponse = []byte(`{"KeyId":"` + keyARN + `","Signature":"` + random(256) + `","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`)
)

// rsaKey is the RSA-2048 key rsaSign signs with, made on first use (so
// that it costs nothing to the start-up measured).
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	return k
})

// rsaSign answers a Sign of msg with RSASSA_PSS_SHA_256 as KMS does (the
// salt as long as the digest), with a real signature: Go's own cost.
func rsaSign(msg []byte) []byte {
	digest := sha256.Sum256(msg)
	sig, err := rsa.SignPSS(rand.Reader, rsaKey(), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		log.Fatal(err)
	}
	return []byte(`{"KeyId":"` + keyARN + `","Signature":"` + base64.StdEncoding.EncodeToString(sig) + `","SigningAlgorithm":"RSASSA_PSS_SHA_256"}`)
}

func createKeyResponse() []byte {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	return []byte(`{"KeyMetadata":{"AWSAccountId":"111122223333","Arn":"` + keyARN + `","CreationDate":` + now +
		`,"CurrentKeyMaterialId":"` + strings.Repeat("ab", 32) + `","CustomerMasterKeySpec":"SYMMETRIC_DEFAULT","Description":"bench","Enabled":true,` +
		`"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"],"KeyId":"` + keyID + `","KeyManager":"CUSTOMER","KeySpec":"SYMMETRIC_DEFAULT",` +
		`"KeyState":"Enabled","KeyUsage":"ENCRYPT_DECRYPT","MultiRegion":false,"Origin":"AWS_KMS"}}`)
}

var keyResponse = createKeyResponse()

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	return json.Unmarshal(body, v)
}

func handle(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if r.Method != http.MethodPost || !ok {
		fail(w, "UnknownOperationException", "unknown operation")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		fail(w, "SerializationException", "could not read the body")
		return
	}
	var out []byte
	switch op {
	case "Encrypt":
		var in encryptInput
		if err = decode(body, &in); err == nil {
			out = cached(encrypted, len(in.Plaintext), encryptResponse)
		}
	case "Decrypt":
		var in decryptInput
		if err = decode(body, &in); err == nil {
			out = cached(decrypted, max(0, len(in.CiphertextBlob)-blobOverhead), decryptResponse)
		}
	case "GenerateDataKey":
		var in generateDataKeyInput
		if err = decode(body, &in); err == nil {
			out = dataKeyResponse
		}
	case "Sign":
		var in signInput
		if err = decode(body, &in); err == nil {
			out = signResponse
			switch {
			case in.SigningAlgorithm == "RSASSA_PSS_SHA_256" && in.MessageType != "DIGEST":
				out = rsaSign(in.Message)
			case strings.HasPrefix(in.SigningAlgorithm, "RSASSA"):
				out = rsaSignResponse
			}
		}
	case "CreateKey":
		var in createKeyInput
		if err = decode(body, &in); err == nil {
			out = keyResponse
		}
	default:
		fail(w, "UnknownOperationException", "unknown operation "+op)
		return
	}
	if err != nil {
		fail(w, "SerializationException", "malformed request body")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

func fail(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:4600", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/", handle)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "refserver listening on", ln.Addr())
	log.Fatal(srv.Serve(ln))
}
