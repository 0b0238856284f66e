package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"strongroom/internal/testenv"
)

// Secret hygiene: plaintexts, data keys, random bytes, private keys and
// secret access keys go through the wire — in successful calls, in calls
// that fail, in malformed bodies — and then every byte the server left
// behind is searched for them, in every encoding a careless log line might
// use: its log (at debug level), a goroutine dump (SIGQUIT, the crash dump
// a Go server leaves), every error message it answered, /metrics, the audit
// trail export, and every file of its data directory (the store must hold
// only sealed material).

// hygSecrets collects what must never be found.
type hygSecrets struct {
	mu   sync.Mutex
	list []hygSecret
}

type hygSecret struct {
	what string
	b    []byte
}

func (s *hygSecrets) add(what string, b []byte) {
	if len(b) < 12 {
		panic("a secret too short to search for without false alarms: " + what)
	}
	s.mu.Lock()
	s.list = append(s.list, hygSecret{what, bytes.Clone(b)})
	s.mu.Unlock()
}

// hygMarker returns a fresh, unmistakable ASCII secret.
func hygMarker(kind string) []byte {
	var r [12]byte
	rand.Read(r[:])
	return []byte("HYG" + kind + hex.EncodeToString(r[:]))
}

// needles are the forms of b a log or file might hold: raw, hex, base64
// (standard and URL, at each alignment inside a longer encoding), and Go's
// default formatting of a byte slice.
func needles(b []byte) map[string][]byte {
	n := map[string][]byte{
		"raw":       b,
		"hex":       []byte(hex.EncodeToString(b)),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString(b))),
		"byte list": []byte(strings.Trim(fmt.Sprint(b[:12]), "[]")),
	}
	for align := range 3 {
		padded := append(make([]byte, align), b...)
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			s := enc.EncodeToString(padded)
			// Drop the characters the alignment bytes and the end share.
			inner := s[(align*4+2)/3+1 : len(s)-4]
			n[fmt.Sprintf("%s@%d", name, align)] = []byte(inner)
		}
	}
	return n
}

// scan reports every secret found in data, which is called where.
func (s *hygSecrets) scan(t *testing.T, where string, data []byte) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sec := range s.list {
		for form, nd := range needles(sec.b) {
			if i := bytes.Index(data, nd); i >= 0 {
				lo, hi := max(0, i-80), min(len(data), i+len(nd)+80)
				t.Errorf("%s holds %s (%s form) at byte %d: …%q…", where, sec.what, form, i, data[lo:hi])
			}
		}
	}
}

// capture is an http.RoundTripper that keeps the body of every error
// response the server sends.
type capture struct {
	mu     sync.Mutex
	errors [][]byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	c.mu.Lock()
	c.errors = append(c.errors, b)
	c.mu.Unlock()
	return resp, nil
}

func TestSecretHygiene(t *testing.T) {
	var secrets hygSecrets
	akid := "AKIAHYGIENE000000001"
	rootSecret := hygMarker("ROOTSECRET")
	secrets.add("the bootstrap secret access key", rootSecret)
	dir := t.TempDir()
	s := start(t, dir, []string{
		"STRONGROOM_BOOTSTRAP_ACCESS_KEY_ID=" + akid,
		"STRONGROOM_BOOTSTRAP_SECRET_ACCESS_KEY=" + string(rootSecret),
	}, "--log-level", "debug", "--encrypt-limit", "4096")
	ctx := context.Background()
	capt := &capture{}
	hc := &http.Client{Transport: capt, Timeout: 30 * time.Second}
	cfg := func(akid, secret, token string) aws.Config {
		return aws.Config{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, token),
			BaseEndpoint: aws.String(s.endpoint),
			HTTPClient:   hc,
			Retryer:      func() aws.Retryer { return testenv.TransportRetryer() },
		}
	}
	c := kms.NewFromConfig(cfg(akid, string(rootSecret), ""))
	mustDo := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Symmetric encryption: plaintexts in, plaintexts and data keys out.
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("hygiene")})
	mustDo("CreateKey", err)
	id := ck.KeyMetadata.KeyId
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/hygiene"), TargetKeyId: id})
	mustDo("CreateAlias", err)
	var blobs [][]byte
	for i := range 4 {
		pt := hygMarker(fmt.Sprintf("PLAINTEXT%d", i))
		secrets.add("an Encrypt plaintext", pt)
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/hygiene"), Plaintext: pt,
			EncryptionContext: map[string]string{"purpose": "hygiene"}})
		mustDo("Encrypt", err)
		blobs = append(blobs, enc.CiphertextBlob)
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "hygiene"}})
		mustDo("Decrypt", err)
		_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: id,
			SourceEncryptionContext: map[string]string{"purpose": "hygiene"}})
		mustDo("ReEncrypt", err)
		// A wrong context: the failure must not carry the plaintext.
		_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
		if err == nil {
			t.Fatal("Decrypt with a wrong context succeeded")
		}
	}
	binPT := make([]byte, 300)
	rand.Read(binPT)
	secrets.add("a binary plaintext", binPT)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: binPT})
	mustDo("Encrypt", err)
	for range 3 {
		dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
		mustDo("GenerateDataKey", err)
		secrets.add("a data key", dk.Plaintext)
		wo, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
		mustDo("GenerateDataKeyWithoutPlaintext", err)
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wo.CiphertextBlob})
		mustDo("Decrypt of a data key", err)
		secrets.add("a data key generated without plaintext", dec.Plaintext)
		rnd, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
		mustDo("GenerateRandom", err)
		secrets.add("GenerateRandom's bytes", rnd.Plaintext)
	}

	// Asymmetric and HMAC keys, where the asymmetric work has landed.
	if pair, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: id, KeyPairSpec: types.DataKeyPairSpecEccNistP256}); err == nil {
		secrets.add("a data key pair's private key", pair.PrivateKeyPlaintext)
	} else {
		t.Logf("GenerateDataKeyPair: %v", err)
	}
	if rk, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt}); err == nil {
		pt := hygMarker("RSAPLAINTEXT")
		secrets.add("an RSA plaintext", pt)
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: rk.KeyMetadata.KeyId, Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		mustDo("RSA Encrypt", err)
		_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: rk.KeyMetadata.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		mustDo("RSA Decrypt", err)
	} else {
		t.Logf("RSA key: %v", err)
	}
	if hk, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac}); err == nil {
		msg := hygMarker("MACMESSAGE")
		secrets.add("a MAC message", msg)
		mac, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hk.KeyMetadata.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		mustDo("GenerateMac", err)
		_, err = c.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: hk.KeyMetadata.KeyId, Message: msg, Mac: mac.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		mustDo("VerifyMac", err)
	} else {
		t.Logf("HMAC key: %v", err)
	}

	// Credentials: an IAM user's access key and an STS session, each used.
	ic := iam.NewFromConfig(cfg(akid, string(rootSecret), ""))
	_, err = ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("hygiene")})
	mustDo("CreateUser", err)
	_, err = ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("hygiene"), PolicyName: aws.String("kms"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`)})
	mustDo("PutUserPolicy", err)
	ak, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("hygiene")})
	mustDo("CreateAccessKey", err)
	secrets.add("an IAM user's secret access key", []byte(*ak.AccessKey.SecretAccessKey))
	uc := kms.NewFromConfig(cfg(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, ""))
	_, err = uc.ListKeys(ctx, &kms.ListKeysInput{})
	mustDo("ListKeys as the IAM user", err)
	// The same key with a wrong secret: a signature failure.
	bad := kms.NewFromConfig(cfg(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey+"x", ""))
	if _, err := bad.ListKeys(ctx, &kms.ListKeysInput{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	_, err = ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("hygiene"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`)})
	mustDo("CreateRole", err)
	_, err = ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("hygiene"), PolicyName: aws.String("kms"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)})
	mustDo("PutRolePolicy", err)
	sc := sts.NewFromConfig(cfg(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, ""))
	ar, err := sc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/hygiene"), RoleSessionName: aws.String("hygiene")})
	mustDo("AssumeRole", err)
	secrets.add("an STS session's secret access key", []byte(*ar.Credentials.SecretAccessKey))
	rc := kms.NewFromConfig(cfg(*ar.Credentials.AccessKeyId, *ar.Credentials.SecretAccessKey, *ar.Credentials.SessionToken))
	_, err = rc.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("as the role")})
	mustDo("Encrypt as the role", err)

	// Failures that carry secrets in the request.
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id})
	mustDo("DisableKey", err)
	pt := hygMarker("DISABLEDPLAINTEXT")
	secrets.add("a plaintext sent to a disabled key", pt)
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: pt}); err == nil {
		t.Fatal("Encrypt under a disabled key succeeded")
	}
	_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id})
	mustDo("EnableKey", err)
	big := bytes.Repeat(hygMarker("OVERSIZED"), 200)
	secrets.add("an oversized plaintext", big[:40])
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: big}); err == nil {
		t.Fatal("an Encrypt over --encrypt-limit succeeded")
	}
	garbage := append(hygMarker("BADBLOB"), blobs[0]...)
	secrets.add("bytes sent as a ciphertext", garbage[:30])
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: garbage}); err == nil {
		t.Fatal("Decrypt of garbage succeeded")
	}
	raw := func(body []byte, extra map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, s.endpoint+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		sum := sha256.Sum256(body)
		v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: akid, SecretAccessKey: string(rootSecret)}, req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now())
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i, tmpl := range []string{
		`{"KeyId":"%s","Plaintext":"%s!"}`,                         // not base64
		`{"KeyId":"%s","Plaintext":"%s"`,                           // cut short
		`{"KeyId":"%s","Plaintext":["%s"]}`,                        // wrong type
		`{"KeyId":"%s","Plaintext":"%s","Plaintext":"eA=="}`,       // duplicate member
		`{"KeyId":"%s","Plaintext":"eA==","HygUnknown":"%s"}`,      // unknown member, accepted
		"{\"KeyId\":\"%s\",\"Plaintext\":\"%s\xff\"}",              // invalid UTF-8
		`{"KeyId":"%s","Plaintext":"eA==","EncryptionContext":%s}`, // a string where a map belongs
	} {
		m := hygMarker(fmt.Sprintf("BODY%d", i))
		secrets.add("a marker in a malformed body", m)
		val := string(m)
		if i == 6 {
			val = `"` + val + `"`
		}
		raw([]byte(fmt.Sprintf(tmpl, *id, val)), nil)
	}
	// Markers where nothing should keep them: a header nobody reads, and
	// the body of a request that fails its signature.
	hm := hygMarker("HEADER")
	secrets.add("a marker in an unsigned header", hm)
	raw([]byte(`{"KeyId":"`+*id+`","Plaintext":"eA=="}`), map[string]string{"X-Hygiene": string(hm)})
	sigm := hygMarker("BADSIGBODY")
	secrets.add("a plaintext in a request with a bad signature", sigm)
	{
		body := []byte(`{"KeyId":"` + *id + `","Plaintext":"` + base64.StdEncoding.EncodeToString(sigm) + `"}`)
		req, _ := http.NewRequest(http.MethodPost, s.endpoint+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService.Encrypt")
		sum := sha256.Sum256(body)
		v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: akid, SecretAccessKey: "wrong" + string(rootSecret)}, req, hex.EncodeToString(sum[:]), "kms", "us-east-1", time.Now())
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	// What the server shows: error messages, metrics, the audit trail.
	capt.mu.Lock()
	if len(capt.errors) < 10 {
		t.Errorf("only %d error responses captured", len(capt.errors))
	}
	for i, b := range capt.errors {
		secrets.scan(t, fmt.Sprintf("error response %d (%s)", i, b), b)
	}
	capt.mu.Unlock()
	if resp, err := http.Get(s.endpoint + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		secrets.scan(t, "GET /metrics", b)
	}
	export := exec.Command(binary, "audit", "export", "--endpoint", s.endpoint)
	export.Env = append(cleanAWSEnv(), "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY="+string(rootSecret), "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var exportErr bytes.Buffer
	export.Stderr = &exportErr
	if out, err := export.Output(); err != nil {
		t.Logf("strongroom audit export: %v: %s", err, exportErr.Bytes())
	} else {
		if len(out) == 0 {
			t.Error("the audit export is empty")
		}
		secrets.scan(t, "the audit export", out)
		secrets.scan(t, "the audit export's stderr", exportErr.Bytes())
	}

	// The crash dump: SIGQUIT makes a Go server print every goroutine's
	// stack to stderr and exit.
	s.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGQUIT")
	}
	log := []byte(s.stderr.String())
	if !bytes.Contains(log, []byte("goroutine ")) {
		t.Errorf("no goroutine dump in the log after SIGQUIT (%d bytes)", len(log))
	}
	if !bytes.Contains(log, []byte("level=DEBUG")) && !bytes.Contains(log, []byte("level=INFO")) {
		t.Errorf("the log holds no log lines: %.500s", log)
	}
	secrets.scan(t, "the server's stderr (debug log and goroutine dump)", log)

	// Every file of the data directory.
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		secrets.scan(t, path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("only %d files in the data directory", n)
	}
	t.Logf("%d secrets searched for in %d error responses, %d bytes of log and %d files", len(secrets.list), len(capt.errors), len(log), n)
}

// TestHygieneScanFindsEncodings checks the search itself: a secret hidden
// in a log in any of the forms needles covers, at any offset, is found.
func TestHygieneScanFindsEncodings(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	forms := map[string]func([]byte) string{
		"raw":       func(b []byte) string { return string(b) },
		"hex":       hex.EncodeToString,
		"base64":    base64.StdEncoding.EncodeToString,
		"base64url": base64.RawURLEncoding.EncodeToString,
		"%v":        func(b []byte) string { return fmt.Sprint(b) },
		"%X":        func(b []byte) string { return fmt.Sprintf("%X", b) },
	}
	for name, enc := range forms {
		for prefix := range 4 {
			// The secret inside a longer value, as a log of a struct holding
			// it would encode it.
			value := append(append(bytes.Repeat([]byte{7}, prefix), secret...), 1, 2, 3)
			logLine := []byte("time=now level=DEBUG msg=x v=" + enc(value) + "\n")
			found := false
			for _, nd := range needles(secret) {
				found = found || bytes.Contains(logLine, nd)
			}
			if !found {
				t.Errorf("a secret encoded %s after %d bytes is not found", name, prefix)
			}
		}
	}
}
