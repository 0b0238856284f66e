package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/app"
	"strongroom/internal/audit"
	kmscore "strongroom/internal/kms"
	"strongroom/internal/metering"
	"strongroom/internal/rootkey"
	"strongroom/internal/store"
	"strongroom/internal/store/bolt"
	"strongroom/internal/store/memory"
	"strongroom/internal/testenv"
)

// A changing call's record is written inside the call's own store
// transaction (kms.commitCall): one durable commit per call, and the change
// and its record are durable together or not at all. These tests check
// that the records are exactly those Invoke wrote after the operation
// before, one per call, and that no crash or retry of the store can
// separate a change from its record.

// txLog is a store that logs the kinds of records each committed
// transaction wrote. Armed, it runs the fn of the next transaction writing
// rerunKind twice, the first run rolled back (as a group commit re-runs a
// batch), calling between in between; or it fails every commit from the
// crashIn-th on, as if the process had died there.
type txLog struct {
	store.Store

	mu        sync.Mutex
	committed [][]store.Kind
	rerunKind store.Kind
	between   func()
	reruns    int
	crashIn   int // -1: no crash armed; 0: every commit fails
}

func newTxLog(st store.Store) *txLog { return &txLog{Store: st, crashIn: -1} }

var (
	errRerun = errors.New("txlog: rolled back to run again")
	errCrash = errors.New("txlog: the process died at this commit")
)

func (s *txLog) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.mu.Lock()
	rerun, crash := s.rerunKind, s.crashIn == 0
	s.mu.Unlock()
	var kinds []store.Kind
	run := func(tx store.Tx) error {
		kinds = kinds[:0]
		return fn(loggedTx{tx, &kinds})
	}
	if rerun != "" {
		err := s.Store.Update(ctx, func(tx store.Tx) error {
			if err := run(tx); err != nil {
				return err
			}
			if slices.Contains(kinds, rerun) {
				return errRerun
			}
			return nil
		})
		if !errors.Is(err, errRerun) {
			s.logged(err, kinds)
			return err
		}
		s.mu.Lock()
		s.rerunKind, s.reruns = "", s.reruns+1
		between := s.between
		s.mu.Unlock()
		if between != nil {
			between()
		}
	}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		if err := run(tx); err != nil {
			return err
		}
		if crash {
			return errCrash
		}
		return nil
	})
	s.logged(err, kinds)
	return err
}

func (s *txLog) logged(err error, kinds []store.Kind) {
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = append(s.committed, slices.Clone(kinds))
	if s.crashIn > 0 {
		s.crashIn--
	}
}

// mark returns where the log is; since returns what committed after it.
func (s *txLog) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.committed)
}

func (s *txLog) since(m int) [][]store.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.committed[m:])
}

func (s *txLog) rerunCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reruns
}

func (s *txLog) arm(f func(s *txLog)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

type loggedTx struct {
	store.Tx
	kinds *[]store.Kind
}

func (t loggedTx) note(k store.Kind) {
	if !slices.Contains(*t.kinds, k) {
		*t.kinds = append(*t.kinds, k)
	}
}

func (t loggedTx) Create(k store.Kind, scope, id string, v []byte) error {
	t.note(k)
	return t.Tx.Create(k, scope, id, v)
}

func (t loggedTx) Put(k store.Kind, scope, id string, v []byte) error {
	t.note(k)
	return t.Tx.Put(k, scope, id, v)
}

func (t loggedTx) Delete(k store.Kind, scope, id string) error {
	t.note(k)
	return t.Tx.Delete(k, scope, id)
}

// afterOnly hides the recorder's RecordTx: Invoke then records every call
// after the operation, as it did before changing calls recorded inside
// their transaction.
type afterOnly struct{ kmscore.Recorder }

// changeStep is one call of TestAuditChangingCallsRecordedWithTheirChange.
type changeStep struct {
	op   string
	code string // the error the call must get; "" for success
	// change is the kind the call's own transaction writes (success only).
	change store.Kind
	// rerun: the store runs the call's transaction twice, the first run
	// rolled back (txLog.rerunKind): only the second run's record counts.
	rerun bool
	call  func(c *kms.Client, ids *stepIDs) error
}

// stepIDs holds what one server's run created, to be named in later steps
// and normalized away when the two runs' records are compared.
type stepIDs struct {
	a, b, c       string // symmetric, ECC signing, symmetric
	grant, grant2 string
	ext, mrk      string // symmetric with Origin EXTERNAL, multi-Region symmetric
	params        [2]*kms.GetParametersForImportOutput
	material      string    // the KeyMaterialId of what was imported into ext
	at            time.Time // the servers' clock (the same on both)
}

// importedMaterial and otherMaterial are the key material imported into
// stepIDs.ext: the first is imported, the second is refused.
var importedMaterial, otherMaterial = sha256.Sum256([]byte("imported")), sha256.Sum256([]byte("other"))

// wrapForImport wraps material under the public key of p with
// RSAES_OAEP_SHA_256 (or _SHA_1), without the service.
func wrapForImport(p *kms.GetParametersForImportOutput, sha1Hash bool, material []byte) ([]byte, error) {
	if p == nil {
		return nil, errors.New("no import parameters")
	}
	parsed, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		return nil, err
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the wrapping public key is a %T", parsed)
	}
	h := sha256.New()
	if sha1Hash {
		h = sha1.New()
	}
	return rsa.EncryptOAEP(h, rand.Reader, pub, material, nil)
}

var changeSteps = []changeStep{
	{op: "CreateKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("a"), Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("red")}}})
		if err == nil {
			ids.a = *out.KeyMetadata.KeyId
		}
		return err
	}},
	{op: "CreateKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
		if err == nil {
			ids.b = *out.KeyMetadata.KeyId
		}
		return err
	}},
	{op: "CreateKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("c")})
		if err == nil {
			ids.c = *out.KeyMetadata.KeyId
		}
		return err
	}},
	{op: "Encrypt", call: func(c *kms.Client, ids *stepIDs) error { // read-only: recorded after, as ever
		_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &ids.a, Plaintext: []byte("x"), EncryptionContext: map[string]string{"k": "v"}})
		return err
	}},
	{op: "UpdateKeyDescription", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: &ids.a, Description: aws.String("a2")})
		return err
	}},
	{op: "TagResource", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: &ids.a, Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}}})
		return err
	}},
	{op: "UntagResource", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &ids.a, TagKeys: []string{"team"}})
		return err
	}},
	{op: "PutKeyPolicy", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &ids.a, PolicyName: aws.String("default"), Policy: aws.String(kmscore.DefaultKeyPolicy(testenv.Account))})
		return err
	}},
	{op: "EnableKeyRotation", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &ids.a, RotationPeriodInDays: aws.Int32(180)})
		return err
	}},
	{op: "DisableKeyRotation", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: &ids.a})
		return err
	}},
	{op: "RotateKeyOnDemand", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &ids.a})
		return err
	}},
	{op: "RotateKeyOnDemand", code: "UnsupportedOperationException", call: func(c *kms.Client, ids *stepIDs) error { // refused inside the transaction
		_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: &ids.b})
		return err
	}},
	{op: "DisableKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &ids.a})
		return err
	}},
	{op: "EnableKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN(testenv.Region, ids.a))})
		return err
	}},
	{op: "DisableKey", code: "NotFoundException", call: func(c *kms.Client, ids *stepIDs) error { // refused before it
		_, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")})
		return err
	}},
	{op: "CreateAlias", change: store.KindAlias, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/recorded"), TargetKeyId: &ids.a})
		return err
	}},
	{op: "CreateAlias", code: "AlreadyExistsException", call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/recorded"), TargetKeyId: &ids.c})
		return err
	}},
	{op: "UpdateAlias", change: store.KindAlias, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/recorded"), TargetKeyId: &ids.c})
		return err
	}},
	{op: "DeleteAlias", change: store.KindAlias, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/recorded")})
		return err
	}},
	{op: "CreateGrant", change: store.KindGrant, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &ids.a, GranteePrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":user/grantee"),
			RetiringPrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":root"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Name: aws.String("g1")})
		if err == nil {
			ids.grant = *out.GrantId
		}
		return err
	}},
	{op: "CreateGrant", call: func(c *kms.Client, ids *stepIDs) error { // the same grant again: idempotent, only its record is written
		_, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &ids.a, GranteePrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":user/grantee"),
			RetiringPrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":root"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Name: aws.String("g1")})
		return err
	}},
	{op: "CreateGrant", code: "DryRunOperationException", call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &ids.a, GranteePrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":user/grantee"), Operations: []types.GrantOperation{types.GrantOperationEncrypt}, DryRun: aws.Bool(true)})
		return err
	}},
	{op: "RetireGrant", change: store.KindGrant, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: aws.String(keyARN(testenv.Region, ids.a)), GrantId: &ids.grant})
		return err
	}},
	{op: "CreateGrant", change: store.KindGrant, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &ids.c, GranteePrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":user/grantee"), Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
		if err == nil {
			ids.grant2 = *out.GrantId
		}
		return err
	}},
	{op: "RevokeGrant", change: store.KindGrant, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &ids.c, GrantId: &ids.grant2})
		return err
	}},
	{op: "RevokeGrant", code: "NotFoundException", call: func(c *kms.Client, ids *stepIDs) error { // gone: refused inside the transaction
		_, err := c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &ids.c, GrantId: &ids.grant2})
		return err
	}},
	{op: "ScheduleKeyDeletion", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &ids.c, PendingWindowInDays: aws.Int32(7)})
		return err
	}},
	{op: "ScheduleKeyDeletion", code: "KMSInvalidStateException", call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &ids.c})
		return err
	}},
	{op: "CancelKeyDeletion", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &ids.c})
		return err
	}},

	// Imported key material.
	{op: "CreateKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Description: aws.String("ext")})
		if err == nil {
			ids.ext = *out.KeyMetadata.KeyId
		}
		return err
	}},
	{op: "GetParametersForImport", change: kindImportParams, rerun: true, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: &ids.ext,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		ids.params[0] = out
		return err
	}},
	{op: "GetParametersForImport", code: "UnsupportedOperationException", call: func(c *kms.Client, ids *stepIDs) error { // not EXTERNAL: refused before the transaction
		_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: &ids.a,
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		return err
	}},
	{op: "ImportKeyMaterial", change: store.KindKey, rerun: true, call: func(c *kms.Client, ids *stepIDs) error {
		wrapped, err := wrapForImport(ids.params[0], false, importedMaterial[:])
		if err != nil {
			return err
		}
		out, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &ids.ext, ImportToken: ids.params[0].ImportToken, EncryptedKeyMaterial: wrapped,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(ids.at.Add(30 * 24 * time.Hour)), KeyMaterialDescription: aws.String("first")})
		if err == nil {
			ids.material = *out.KeyMaterialId
		}
		return err
	}},
	{op: "ImportKeyMaterial", code: "InvalidImportTokenException", call: func(c *kms.Client, ids *stepIDs) error { // refused before the transaction
		token := slices.Clone(ids.params[0].ImportToken)
		token[len(token)-1] ^= 1
		wrapped, err := wrapForImport(ids.params[0], false, importedMaterial[:])
		if err != nil {
			return err
		}
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &ids.ext, ImportToken: token, EncryptedKeyMaterial: wrapped,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		return err
	}},
	{op: "GetParametersForImport", change: kindImportParams, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(keyARN(testenv.Region, ids.ext)),
			WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha1, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		ids.params[1] = out
		return err
	}},
	{op: "ImportKeyMaterial", code: "IncorrectKeyMaterialException", call: func(c *kms.Client, ids *stepIDs) error { // other material: refused inside the transaction
		wrapped, err := wrapForImport(ids.params[1], true, otherMaterial[:])
		if err != nil {
			return err
		}
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &ids.ext, ImportToken: ids.params[1].ImportToken, EncryptedKeyMaterial: wrapped,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		return err
	}},
	{op: "DeleteImportedKeyMaterial", change: store.KindKey, rerun: true, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: &ids.ext})
		return err
	}},
	{op: "DeleteImportedKeyMaterial", code: "UnsupportedOperationException", call: func(c *kms.Client, ids *stepIDs) error { // not EXTERNAL: refused inside the transaction
		_, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: &ids.a})
		return err
	}},
	{op: "ImportKeyMaterial", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error { // the same material again, re-imported
		wrapped, err := wrapForImport(ids.params[1], true, importedMaterial[:])
		if err != nil {
			return err
		}
		_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: &ids.ext, ImportToken: ids.params[1].ImportToken, EncryptedKeyMaterial: wrapped,
			ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire, KeyMaterialId: &ids.material})
		return err
	}},

	// Multi-Region keys.
	{op: "CreateKey", change: store.KindKey, call: func(c *kms.Client, ids *stepIDs) error {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("mrk")})
		if err == nil {
			ids.mrk = *out.KeyMetadata.KeyId
		}
		return err
	}},
	{op: "ReplicateKey", change: store.KindKey, rerun: true, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: &ids.mrk, ReplicaRegion: aws.String(euWest), Description: aws.String("replica"),
			Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("blue")}}})
		return err
	}},
	{op: "ReplicateKey", code: "AlreadyExistsException", call: func(c *kms.Client, ids *stepIDs) error { // refused before the transaction
		_, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: &ids.mrk, ReplicaRegion: aws.String(euWest)})
		return err
	}},
	{op: "ReplicateKey", code: "UnsupportedOperationException", call: func(c *kms.Client, ids *stepIDs) error { // not multi-Region
		_, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: &ids.a, ReplicaRegion: aws.String(euWest)})
		return err
	}},
	{op: "UpdatePrimaryRegion", change: store.KindKey, rerun: true, call: func(c *kms.Client, ids *stepIDs) error {
		_, err := c.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: &ids.mrk, PrimaryRegion: aws.String(euWest)})
		return err
	}},
	{op: "UpdatePrimaryRegion", code: "UnsupportedOperationException", call: func(c *kms.Client, ids *stepIDs) error { // a replica now: refused before the transaction
		_, err := c.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: &ids.mrk, PrimaryRegion: aws.String(euWest)})
		return err
	}},
}

// The kinds the import operations write (internal/kms/import.go).
const (
	kindImportParams   store.Kind = "import_params"
	kindMaterialExpiry store.Kind = "material_expiry"
)

// TestAuditChangingCallsRecordedWithTheirChange runs the same calls — every
// changing operation recorded inside its transaction, and failures inside
// and before it — on two servers at the same instant: one as shipped, one
// whose recorder cannot write inside a transaction, so that Invoke records
// every call after the operation, as it did before. The trails must hold
// the same records, one per call (event and request ids, key and grant ids
// and access key ids aside), and the bills must be the same. On the first
// server every successful changing call commits once, its change and its
// record in the same transaction; on the second twice. It runs with the
// records in the store and with segment files.
func TestAuditChangingCallsRecordedWithTheirChange(t *testing.T) {
	for _, inStore := range []bool{true, false} {
		t.Run(trailMode(inStore), func(t *testing.T) { auditChangingCallsRecordedWithTheirChange(t, inStore) })
	}
}

func auditChangingCallsRecordedWithTheirChange(t *testing.T, inStore bool) {
	at := time.Now().UTC().Truncate(time.Second)
	type run struct {
		env     *testenv.Env
		log     *txLog
		ids     stepIDs
		records []trailRecord
		bill    string
	}
	start := func(after bool) *run {
		r := &run{log: newTxLog(memory.New()), ids: stepIDs{at: at}}
		o := testenv.Options{Store: r.log, AuditInStore: inStore}
		if after {
			o.Setup = func(a *app.App) {
				a.Service.SetRecorder(afterOnly{kmscore.NewAuditRecorder(a.Service, kmscore.AuditConfig{Trail: a.Trail, OperatorAccount: testenv.Account})})
			}
		}
		r.env = testenv.Start(t, o)
		r.env.Clock.Set(at)
		return r
	}
	runs := []*run{start(false), start(true)}
	for i, r := range runs {
		c := r.env.KMS()
		before := len(records(t, trailLines(t, r.env)))
		for j, s := range changeSteps {
			m, reruns := r.log.mark(), r.log.rerunCount()
			if s.rerun {
				r.log.arm(func(l *txLog) { l.rerunKind, l.between = s.change, nil })
			}
			err := s.call(c, &r.ids)
			if code := apiCode(err); code != s.code || (err != nil && code == "") {
				t.Fatalf("step %d (%s): %v, want %q", j, s.op, err, s.code)
			}
			if s.rerun && r.log.rerunCount() != reruns+1 {
				t.Fatalf("step %d (%s): the transaction was not run again", j, s.op)
			}
			// The transactions that changed something (the trail's own,
			// which may run behind the calls, change nothing of KMS's).
			changes := slices.DeleteFunc(r.log.since(m), func(kinds []store.Kind) bool { return !slices.ContainsFunc(kinds, isChange) })
			switch {
			case s.change == "": // read-only, failed, or nothing to change
				if len(changes) != 0 {
					t.Errorf("server %d, step %d (%s %s): committed %v, want no change", i, j, s.op, s.code, changes)
				}
			case i == 0: // the change with its record
				if len(changes) != 1 || !slices.Contains(changes[0], s.change) || !slices.ContainsFunc(changes[0], isRecord) {
					t.Errorf("step %d (%s): committed %v, want one transaction with the change (%s) and its record", j, s.op, changes, s.change)
				}
			default: // the change, its record apart
				if len(changes) != 1 || !slices.Contains(changes[0], s.change) || slices.ContainsFunc(changes[0], isRecord) {
					t.Errorf("before, step %d (%s): committed %v, want the change without its record", j, s.op, changes)
				}
			}
		}
		// Read from the trail and the meter directly: the admin API needs
		// the recorder itself, which the second server hides.
		export := trailLines(t, r.env)
		verifyExport(t, export)
		r.records = records(t, export)[before:]
		bill, err := metering.Report(ctx, r.env.Store, testenv.Account, at.Format("2006-01"), at, metering.DefaultPrices())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(bill)
		r.bill = string(b)
	}

	norm := func(r *run, raw []byte) string {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "eventID")
		delete(m, "requestID")
		b, _ := json.Marshal(m)
		var pairs []string
		for name, id := range map[string]string{"KEY-A": r.ids.a, "KEY-B": r.ids.b, "KEY-C": r.ids.c, "GRANT-1": r.ids.grant, "GRANT-2": r.ids.grant2, "ROOT-ACCESS-KEY": r.env.Root.AccessKeyID,
			"KEY-EXT": r.ids.ext, "KEY-MRK": r.ids.mrk, "MATERIAL-EXT": r.ids.material} {
			if id != "" {
				pairs = append(pairs, id, name)
			}
		}
		// Key material ids are random too.
		return materialID.ReplaceAllString(strings.NewReplacer(pairs...).Replace(string(b)), `"currentKeyMaterialId":"MATERIAL"`)
	}
	// Compared as sets: where a record written in its call's transaction
	// falls among the others' is the trail's business (with segment files
	// it follows them through an outbox).
	now, old := runs[0], runs[1]
	var wantNames, gotNames []string
	for _, s := range changeSteps {
		wantNames = append(wantNames, s.op+" "+s.code)
	}
	var got, want []string
	for _, r := range now.records {
		gotNames = append(gotNames, r.Event.EventName+" "+r.Event.ErrorCode)
		got = append(got, norm(now, r.Raw))
	}
	for _, r := range old.records {
		want = append(want, norm(old, r.Raw))
	}
	slices.Sort(wantNames)
	slices.Sort(gotNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("records %q,\nwant one per call: %q", gotNames, wantNames)
	}
	slices.Sort(got)
	slices.Sort(want)
	for len(got) > 0 && len(want) > 0 && got[0] == want[0] {
		got, want = got[1:], want[1:]
	}
	if len(got) > 0 || len(want) > 0 {
		t.Errorf("the records differ from those recorded after the calls; the first that differs:\n got %s\nwant %s", first(got), first(want))
	}
	if g, w := norm(now, []byte(now.bill)), norm(old, []byte(old.bill)); g != w {
		t.Errorf("the bills differ:\n got %s\nwant %s", g, w)
	}
	// The created key's ARN is among CreateKey's resources, as before; the
	// replica's among ReplicateKey's, after the primary's.
	for _, r := range now.records {
		if r.Event.EventName == "CreateKey" && r.Event.RequestParameters["description"] == "a" {
			if res := r.Event.Resources; len(res) != 1 || res[0].ARN != keyARN(testenv.Region, now.ids.a) {
				t.Errorf("CreateKey's resources: %+v", res)
			}
		}
		if r.Event.EventName == "ReplicateKey" && r.Event.ErrorCode == "" {
			res := r.Event.Resources
			if len(res) != 2 || res[0].ARN != keyARN(testenv.Region, now.ids.mrk) || res[1].ARN != keyARN(euWest, now.ids.mrk) {
				t.Errorf("ReplicateKey's resources: %+v, want the primary's then the replica's ARN", res)
			}
			md, _ := r.Event.ResponseElements["replicaKeyMetadata"].(map[string]any)
			if md["arn"] != keyARN(euWest, now.ids.mrk) {
				t.Errorf("ReplicateKey's responseElements: %v, want the replica's metadata", r.Event.ResponseElements)
			}
		}
		// Nothing of GetParametersForImport's answer (the public key, the
		// import token) is recorded.
		if r.Event.EventName == "GetParametersForImport" && (r.Event.ResponseElements != nil || strings.Contains(string(r.Raw), "mportToken") || strings.Contains(string(r.Raw), "ublicKey")) {
			t.Errorf("GetParametersForImport's record keeps some of its answer: %s", r.Raw)
		}
	}
}

func first(ss []string) string {
	if len(ss) == 0 {
		return "(none)"
	}
	return ss[0]
}

var materialID = regexp.MustCompile(`"currentKeyMaterialId":"[0-9a-f]+"`)

// trailLines exports env's whole trail straight from it, as JSON lines.
func trailLines(t *testing.T, env *testenv.Env) []byte {
	t.Helper()
	var buf []byte
	q := audit.ExportQuery{MaxLines: 1000}
	for {
		page, err := env.App.Trail.Export(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Lines {
			buf = append(append(buf, l...), '\n')
		}
		if page.NextToken == "" {
			return buf
		}
		q.NextToken = page.NextToken
	}
}

// isChange reports whether kind holds what a KMS call changes (not its
// record, the meter or keys' last use).
func isChange(kind store.Kind) bool {
	switch kind {
	case store.KindKey, store.KindAlias, store.KindGrant, store.KindGrantRetiring, store.KindPending, kindImportParams, kindMaterialExpiry:
		return true
	}
	return false
}

// isRecord reports whether kind holds audit records written in a store
// transaction: the trail's, or its outbox (audit.Options.SegmentDir).
func isRecord(kind store.Kind) bool {
	return kind == store.KindAudit || kind == store.KindAuditMeta
}

// TestAuditRecordOfARetriedTransaction: the store runs a changing call's
// transaction function twice, the first run rolled back, as the embedded
// store's group commit does when another call of its batch fails. The
// call leaves one record, of the run that committed: a success when both
// runs succeed; the failure when the second run fails after the first one
// had written a success record (another client created the alias in
// between).
func TestAuditRecordOfARetriedTransaction(t *testing.T) {
	for _, inStore := range []bool{true, false} {
		t.Run(trailMode(inStore), func(t *testing.T) { auditRecordOfARetriedTransaction(t, inStore) })
	}
}

func auditRecordOfARetriedTransaction(t *testing.T, inStore bool) {
	log := newTxLog(memory.New())
	env := testenv.Start(t, testenv.Options{Store: log, AuditInStore: inStore})
	c, other := env.KMS(), env.KMS()
	keyID := *newKey(t, c, "retried").KeyId
	aliasRecords := func() (out []trailRecord) {
		for _, r := range records(t, exportTrail(t, env, rootCreds(env))) {
			if r.Event.EventName == "CreateAlias" {
				out = append(out, r)
			}
		}
		return out
	}

	log.arm(func(s *txLog) { s.rerunKind, s.between = store.KindAlias, nil })
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/twice"), TargetKeyId: &keyID}))
	if log.rerunCount() != 1 {
		t.Fatalf("the transaction ran again %d times, want once", log.rerunCount())
	}
	recs := aliasRecords()
	if len(recs) != 1 || recs[0].Event.ErrorCode != "" || recs[0].Event.RequestParameters["aliasName"] != "alias/twice" {
		t.Fatalf("after a re-run that succeeded: %d CreateAlias records, want one success", len(recs))
	}

	// In between the runs another client takes the name: the re-run fails.
	log.arm(func(s *txLog) {
		s.rerunKind = store.KindAlias
		s.between = func() {
			if _, err := other.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: &keyID}); err != nil {
				t.Errorf("the other client's CreateAlias: %v", err)
			}
		}
	})
	_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: &keyID})
	wantCode(t, err, "AlreadyExistsException")
	if n := log.rerunCount(); n != 2 {
		t.Fatalf("the transaction ran again %d times in all, want twice", n)
	}
	recs = aliasRecords()
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%v:%s", r.Event.RequestParameters["aliasName"], r.Event.ErrorCode))
	}
	slices.Sort(got)
	// The other client's success and this call's failure: nothing of the
	// first run, whose record was rolled back with it.
	if want := "[alias/taken: alias/taken:AlreadyExistsException alias/twice:]"; fmt.Sprint(got) != want {
		t.Fatalf("CreateAlias records %v, want %s", got, want)
	}
	verifyExport(t, exportTrail(t, env, rootCreds(env)))
}

// TestCreateKeyCrashKeepsKeyAndRecordTogether: the process dies at each
// commit a CreateKey makes (that commit and every later one fail). Since
// the key and its record commit in one transaction — CreateKey makes one
// commit — no crash leaves a key without its record.
func TestCreateKeyCrashKeepsKeyAndRecordTogether(t *testing.T) {
	for _, inStore := range []bool{true, false} {
		t.Run(trailMode(inStore), func(t *testing.T) { createKeyCrashKeepsKeyAndRecordTogether(t, inStore) })
	}
}

func createKeyCrashKeepsKeyAndRecordTogether(t *testing.T, inStore bool) {
	// How many commits a CreateKey makes.
	log := newTxLog(memory.New())
	env := testenv.Start(t, testenv.Options{Store: log, AuditInStore: inStore})
	m := log.mark()
	newKey(t, env.KMS(), "counted")
	commits := log.since(m)
	key := slices.IndexFunc(commits, func(kinds []store.Kind) bool { return slices.Contains(kinds, store.KindKey) })
	if key < 0 || !slices.ContainsFunc(commits[key], isRecord) {
		t.Errorf("CreateKey committed %v, want the key and its record in one transaction", commits)
	}
	for i := range len(commits) {
		t.Run(fmt.Sprintf("crash at commit %d", i), func(t *testing.T) {
			log := newTxLog(memory.New())
			env := testenv.Start(t, testenv.Options{Store: log, AuditInStore: inStore})
			c := env.KMS()
			log.arm(func(s *txLog) { s.crashIn = i })
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("crashed")})
			if err == nil {
				t.Fatal("CreateKey was acknowledged although its commit failed")
			}
			log.arm(func(s *txLog) { s.crashIn = -1 }) // restarted
			wantEveryKeyRecorded(t, env, c)
		})
	}
}

// TestCreateKeyFailedFsyncKeepsKeyAndRecordTogether: on the embedded store,
// the commit of a CreateKey reaches the file but its fdatasync fails, so
// the key may or may not survive (the store is fenced until a restart).
// After the restart the key, if it is there, has its record.
func TestCreateKeyFailedFsyncKeepsKeyAndRecordTogether(t *testing.T) {
	dir := t.TempDir()
	sealer := rootkey.NewEphemeral()
	var failing atomic.Bool
	st, err := bolt.Open(dir, bolt.Options{Fault: func(p bolt.FaultPoint) error {
		if p == bolt.FaultAfterWrite && failing.Load() {
			return syscall.EIO
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, testenv.Options{Store: st, Sealer: sealer, AuditInStore: true})
	c := env.KMS()
	newKey(t, c, "before the fault")
	failing.Store(true)
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("during the fault")})
	wantInternal(t, "CreateKey", err)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatalf("reopening after the fault: %v", err)
	}
	env2 := testenv.Start(t, testenv.Options{Store: st2, Sealer: sealer, AuditInStore: true})
	c2 := env2.KMS()
	if n := wantEveryKeyRecorded(t, env2, c2); n != 2 {
		// The commit reached the file: with its record in it.
		t.Errorf("%d keys after the restart, want both (the fenced commit was written)", n)
	}
}

// wantEveryKeyRecorded fails unless every key of the account has the
// successful CreateKey record that names it, and the trail verifies. It
// returns the number of keys.
func wantEveryKeyRecorded(t *testing.T, env *testenv.Env, c *kms.Client) int {
	t.Helper()
	export := exportTrail(t, env, rootCreds(env))
	verifyExport(t, export)
	created := map[string]int{}
	for _, r := range records(t, export) {
		if r.Event.EventName != "CreateKey" || r.Event.ErrorCode != "" {
			continue
		}
		if md, ok := r.Event.ResponseElements["keyMetadata"].(map[string]any); ok {
			created[fmt.Sprint(md["keyId"])]++
		}
	}
	keys := must[*kms.ListKeysOutput](t)(c.ListKeys(ctx, &kms.ListKeysInput{}))
	for _, k := range keys.Keys {
		if n := created[*k.KeyId]; n != 1 {
			t.Errorf("key %s has %d CreateKey records, want 1", *k.KeyId, n)
		}
		delete(created, *k.KeyId)
	}
	for id := range created {
		t.Errorf("a CreateKey record names key %s, which does not exist", id)
	}
	return len(keys.Keys)
}

// trailMode names a test run with the audit records in the store (as on
// PostgreSQL) or in segment files (as `serve` on its embedded store).
func trailMode(inStore bool) string {
	if inStore {
		return "records in the store"
	}
	return "segment files"
}
