package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/jackc/pgx/v5"
)

// freshness is the bound the design promises: a change made through one
// node is in force on every node within one second.
const freshness = time.Second

// TestCluster runs three `strongroom serve` processes on one PostgreSQL
// database, started at the same moment, behind a client-side load balancer.
func TestCluster(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 3, nil)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]

	// Bootstrap happened once: exactly one node generated credentials.
	var credFiles []string
	for _, n := range c.nodes {
		if _, err := os.Stat(filepath.Join(n.dataDir, "bootstrap-credentials")); err == nil {
			credFiles = append(credFiles, n.name)
		}
	}
	if len(credFiles) != 1 {
		t.Fatalf("bootstrap credentials written by nodes %v, want exactly one", credFiles)
	}
	var akid, secret string
	for _, n := range c.nodes {
		if p := filepath.Join(n.dataDir, "bootstrap-credentials"); fileExists(p) {
			akid, secret = readCreds(t, p)
		}
	}
	kmsA, kmsC := nodeKMS(a, akid, secret, "us-east-1"), nodeKMS(cc, akid, secret, "us-east-1")
	for _, n := range c.nodes { // the key works on every node
		if _, err := nodeKMS(n, akid, secret, "us-east-1").ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatalf("node %s: %v", n.name, err)
		}
	}

	newKey := func(t *testing.T) string {
		t.Helper()
		out, err := kmsA.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return *out.KeyMetadata.KeyId
	}
	encryptOn := func(cl *kms.Client, keyID string) error {
		_, err := cl.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("x")})
		return err
	}
	// refusedWithin checks that the change made just before is in force on
	// node C within the freshness bound: fn reports the error node C gives.
	// The bound counts from the change's commit, which comes before its
	// response, where the clock starts here: a request sent once the bound
	// has passed must be refused, whatever the load on this machine.
	refusedWithin := func(t *testing.T, what, code string, fn func() error) {
		t.Helper()
		start := time.Now()
		for time.Since(start) < freshness {
			sent := time.Now()
			if errorCode(fn()) == code {
				t.Logf("%s: %s on node C for a request sent %v after the change", what, code, sent.Sub(start))
				return
			}
			time.Sleep(time.Millisecond)
		}
		if err := fn(); errorCode(err) != code {
			t.Errorf("%s: a request to node C sent %v after the change got %v, want %s", what, time.Since(start), err, code)
		}
	}

	t.Run("DisableKey on A, Encrypt refused on C", func(t *testing.T) {
		id := newKey(t)
		if err := encryptOn(kmsC, id); err != nil {
			t.Fatalf("Encrypt on C before: %v", err)
		}
		if _, err := kmsA.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "DisableKey", "DisabledException", func() error { return encryptOn(kmsC, id) })
	})

	t.Run("ScheduleKeyDeletion on A, Encrypt refused on C", func(t *testing.T) {
		id := newKey(t)
		if _, err := kmsA.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "ScheduleKeyDeletion", "KMSInvalidStateException", func() error { return encryptOn(kmsC, id) })
	})

	t.Run("DeleteAlias on A, alias gone on C", func(t *testing.T) {
		id := newKey(t)
		if _, err := kmsA.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/cluster"), TargetKeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		if err := encryptOn(kmsC, "alias/cluster"); err != nil {
			t.Fatalf("Encrypt by alias on C: %v", err)
		}
		if _, err := kmsA.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/cluster")}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "DeleteAlias", "NotFoundException", func() error { return encryptOn(kmsC, "alias/cluster") })
	})

	t.Run("PutKeyPolicy on A, in force on C", func(t *testing.T) {
		id := newKey(t)
		deny := `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*"}]}`
		if _, err := kmsA.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(deny)}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "PutKeyPolicy", "AccessDeniedException", func() error { return encryptOn(kmsC, id) })
	})

	t.Run("IAM and grants changed on A, in force on C", func(t *testing.T) {
		iamA := nodeIAM(a, akid, secret)
		id := newKey(t)
		// alice: an IAM user whose identity policy allows KMS.
		if _, err := iamA.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
			t.Fatal(err)
		}
		if _, err := iamA.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("kms"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		ak, err := iamA.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		aliceC := nodeKMS(cc, *ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, "us-east-1")
		within(t, 5*time.Second, "alice's new key works on C", func() bool { return encryptOn(aliceC, id) == nil })
		// Her identity policy removed on A: refused on C.
		if _, err := iamA.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("kms")}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "DeleteUserPolicy", "AccessDeniedException", func() error { return encryptOn(aliceC, id) })

		// A grant lets her in again; revoked on A, refused on C.
		user, err := iamA.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		g, err := kmsA.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: user.User.Arn,
			Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
		if err != nil {
			t.Fatal(err)
		}
		within(t, 5*time.Second, "the grant works on C", func() bool { return encryptOn(aliceC, id) == nil })
		if _, err := kmsA.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(id), GrantId: g.GrantId}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "RevokeGrant", "AccessDeniedException", func() error { return encryptOn(aliceC, id) })

		// Her access key deleted on A: unknown on C (identity caches live 1 s).
		if _, err := iamA.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: ak.AccessKey.AccessKeyId}); err != nil {
			t.Fatal(err)
		}
		refusedWithin(t, "DeleteAccessKey", "UnrecognizedClientException", func() error { return encryptOn(aliceC, id) })
	})

	t.Run("SIGKILL one node under load", func(t *testing.T) {
		bal := newBalancer(c.nodes)
		client := bal.kmsClient(akid, secret, "us-east-1")
		id := newKey(t)

		type acked struct{ pt, blob []byte }
		var (
			mu        sync.Mutex
			all       []acked
			afterKill atomic.Int64
			failures  atomic.Int64
			killed    atomic.Bool
			stop      = make(chan struct{})
			wg        sync.WaitGroup
		)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					pt := make([]byte, 32)
					rand.Read(pt)
					out, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: pt})
					if err != nil {
						failures.Add(1) // in flight on the killed node: never acknowledged
						continue
					}
					mu.Lock()
					all = append(all, acked{pt, out.CiphertextBlob})
					mu.Unlock()
					if killed.Load() {
						afterKill.Add(1)
					}
				}
			}()
		}
		time.Sleep(1500 * time.Millisecond)
		beforeB := bal.dials[1].Load()
		b.kill()
		killed.Store(true)
		mu.Lock()
		ackedBeforeKill := len(all)
		mu.Unlock()
		time.Sleep(1500 * time.Millisecond)
		close(stop)
		wg.Wait()
		t.Logf("%d ciphertexts acknowledged before the kill, %d after; %d failed requests; requests per node A=%d B=%d C=%d",
			ackedBeforeKill, afterKill.Load(), failures.Load(), bal.dials[0].Load(), bal.dials[1].Load(), bal.dials[2].Load())
		if beforeB == 0 {
			t.Fatal("node B served no request before it was killed: the load was not spread")
		}
		if afterKill.Load() == 0 {
			t.Fatal("no request succeeded after node B was killed")
		}
		// Every acknowledged ciphertext decrypts, on either surviving node.
		survivors := []*kms.Client{kmsA, kmsC}
		for i, ac := range all {
			out, err := survivors[i%2].Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ac.blob})
			if err != nil {
				t.Fatalf("ciphertext %d of %d (acknowledged %s the kill): %v", i, len(all), map[bool]string{true: "before", false: "after"}[i < ackedBeforeKill], err)
			}
			if !bytes.Equal(out.Plaintext, ac.pt) {
				t.Fatalf("ciphertext %d decrypted to other bytes", i)
			}
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestClusterRefusesMismatchedRoot starts a node with another root key on
// a cluster's database: it must refuse to start, and say why.
func TestClusterRefusesMismatchedRoot(t *testing.T) {
	c := startCluster(t, 1, envCreds)
	other := filepath.Join(t.TempDir(), "other.key")
	writeRootKey(t, other)
	n := launch(t, "X", t.TempDir(), envCreds, "--store", c.db, "--root-key-file", other)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		t.Fatal("a node with a mismatched root key kept running")
	}
	if n.exitErr == nil {
		t.Fatal("a node with a mismatched root key exited 0")
	}
	if msg := n.stderr.String(); !strings.Contains(msg, "does not match") || !strings.Contains(msg, "--root-key-file") {
		t.Fatalf("the refusal does not say why:\n%s", msg)
	}
	// And a node without the cluster's root key file does not mint one.
	missing := filepath.Join(t.TempDir(), "missing.key")
	n = launch(t, "Y", t.TempDir(), envCreds, "--store", c.db, "--root-key-file", missing)
	<-n.done
	if n.exitErr == nil || fileExists(missing) {
		t.Fatalf("a node without the root key started (%v) or created one (%v):\n%s", n.exitErr, fileExists(missing), n.stderr)
	}
}

// TestClusterRotationOnce makes an automatic rotation due while two nodes
// run their background work every 200 ms, and checks that it happens once.
func TestClusterRotationOnce(t *testing.T) {
	ctx := context.Background()
	c := startCluster(t, 2, envCreds, "--background-every", "200ms")
	kmsA := nodeKMS(c.nodes[0], testAKID, testSecret, "us-east-1")
	kmsB := nodeKMS(c.nodes[1], testAKID, testSecret, "us-east-1")
	var keys []string
	for range 3 {
		out, err := kmsA.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		id := *out.KeyMetadata.KeyId
		if _, err := kmsA.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, id)
	}
	// Move each key's next rotation into the past, in the database, as if
	// 90 days had gone by.
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	due := time.Now().Add(-time.Minute).Unix()
	for _, id := range keys {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM strongroom_records WHERE kind = 'rotation_due' AND convert_from(id, 'UTF8') LIKE '%/' || $1`, []any{id}},
			{`INSERT INTO strongroom_records (kind, scope, id, value) VALUES ('rotation_due', ''::bytea, convert_to($1, 'UTF8'), ''::bytea)`,
				[]any{fmt.Sprintf("%020d/%s/%s/%s", due, "111122223333", "us-east-1", id)}},
			{`UPDATE strongroom_records SET value = convert_to(jsonb_set(convert_from(value, 'UTF8')::jsonb, '{rotation,next}', to_jsonb($2::bigint))::text, 'UTF8')
			  WHERE kind = 'key' AND id = convert_to($1, 'UTF8')`, []any{id, due}},
		} {
			tag, err := tx.Exec(ctx, q.sql, q.args...)
			if err != nil || (strings.HasPrefix(q.sql, "UPDATE") && tag.RowsAffected() != 1) {
				t.Fatalf("%s: %v (%v)", q.sql, err, tag)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rotations := func(id string) int {
		out, err := kmsB.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Rotations)
	}
	for _, id := range keys {
		within(t, 10*time.Second, "the due rotation of "+id, func() bool { return rotations(id) > 0 })
	}
	time.Sleep(1500 * time.Millisecond) // several more rounds on both nodes
	for _, id := range keys {
		if n := rotations(id); n != 1 {
			t.Errorf("key %s rotated %d times, want once", id, n)
		}
		st, err := kmsA.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if st.NextRotationDate == nil || time.Until(*st.NextRotationDate) < 80*24*time.Hour {
			t.Errorf("key %s: next rotation %v, want about 90 days ahead", id, st.NextRotationDate)
		}
	}
	// The rotated material serves on both nodes.
	enc, err := kmsB.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keys[0]), Plaintext: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kmsA.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
}
