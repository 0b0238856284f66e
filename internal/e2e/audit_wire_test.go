package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"

	"strongroom/internal/testenv"
)

// expectedRecord is what one call must leave in the trail.
type expectedRecord struct {
	name      string
	principal string // userIdentity.type
	user      string // userIdentity.userName ("" for root)
	errorCode string
	requestID string // when known from the response
}

// TestAuditWireTwoPrincipals drives a sequence of calls by the account
// root and an IAM user — allowed, denied and failed — and checks that the
// trail holds exactly the expected records, that none of them (nor any
// LookupEvents answer) contains a plaintext, data key, ciphertext or secret,
// that the export verifies, and that LookupEvents and GetKeyLastUsage answer
// from the same records.
func TestAuditWireTwoPrincipals(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	root := env.KMS()
	alice := newUserWithKey(t, env, "alice")
	putUserPolicy(t, env, "alice", "use", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":"*"}]}`)
	ak := kmsAs(env, alice)
	before := len(records(t, exportTrail(t, env, rootCreds(env))))

	secrets := map[string][]byte{
		"root's plaintext":  []byte("TOP-SECRET-ROOT-PLAINTEXT-4711"),
		"alice's plaintext": []byte("TOP-SECRET-ALICE-PLAINTEXT-0815"),
		"root secret key":   []byte(env.Root.SecretAccessKey),
		"alice secret key":  []byte(alice.SecretAccessKey),
	}
	var want []expectedRecord
	reqID := func(md middleware.Metadata) string { id, _ := awsmw.GetRequestIDMetadata(md); return id }
	rootDid := func(name, code, id string) {
		want = append(want, expectedRecord{name: name, principal: "Root", errorCode: code, requestID: id})
	}
	aliceDid := func(name, code, id string) {
		want = append(want, expectedRecord{name: name, principal: "IAMUser", user: "alice", errorCode: code, requestID: id})
	}

	ck := must[*kms.CreateKeyOutput](t)(root.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("audited")}))
	rootDid("CreateKey", "", reqID(ck.ResultMetadata))
	keyID := *ck.KeyMetadata.KeyId

	enc := must[*kms.EncryptOutput](t)(root.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: secrets["root's plaintext"], EncryptionContext: map[string]string{"purpose": "audit-test"}}))
	rootDid("Encrypt", "", reqID(enc.ResultMetadata))
	secrets["root's ciphertext"] = enc.CiphertextBlob

	enc2 := must[*kms.EncryptOutput](t)(ak.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: secrets["alice's plaintext"]}))
	aliceDid("Encrypt", "", reqID(enc2.ResultMetadata))

	dec := must[*kms.DecryptOutput](t)(ak.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc2.CiphertextBlob}))
	aliceDid("Decrypt", "", reqID(dec.ResultMetadata))

	dk := must[*kms.GenerateDataKeyOutput](t)(ak.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &keyID, KeySpec: types.DataKeySpecAes256}))
	aliceDid("GenerateDataKey", "", reqID(dk.ResultMetadata))
	secrets["data key"], secrets["encrypted data key"] = dk.Plaintext, dk.CiphertextBlob
	dkEvent := len(want) - 1

	_, err := ak.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &keyID})
	wantCode(t, err, "AccessDeniedException")
	aliceDid("ScheduleKeyDeletion", "AccessDeniedException", "")

	_, err = root.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/does-not-exist")})
	wantCode(t, err, "NotFoundException")
	rootDid("DescribeKey", "NotFoundException", "")

	rnd := must[*kms.GenerateRandomOutput](t)(root.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)}))
	rootDid("GenerateRandom", "", reqID(rnd.ResultMetadata))
	secrets["random bytes"] = rnd.Plaintext

	g := must[*kms.CreateGrantOutput](t)(root.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: &keyID, GranteePrincipal: aws.String("arn:aws:iam::" + testenv.Account + ":user/alice"), Operations: []types.GrantOperation{types.GrantOperationDecrypt}}))
	rootDid("CreateGrant", "", reqID(g.ResultMetadata))
	secrets["grant token"] = []byte(*g.GrantToken)

	_, err = root.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: append(bytes.Clone(enc.CiphertextBlob[:len(enc.CiphertextBlob)-1]), enc.CiphertextBlob[len(enc.CiphertextBlob)-1]^1)})
	wantCode(t, err, "InvalidCiphertextException")
	rootDid("Decrypt", "InvalidCiphertextException", "")

	lu := must[*kms.GetKeyLastUsageOutput](t)(root.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: &keyID}))
	rootDid("GetKeyLastUsage", "", reqID(lu.ResultMetadata))

	export := exportTrail(t, env, rootCreds(env))
	verifyExport(t, export)
	all := records(t, export)
	if all[before].Event.EventName != "ExportAuditTrail" { // the first export's own record
		t.Fatalf("record after the first export: %s", all[before].Raw)
	}
	got := all[before+1:]
	// (The export's own record follows its answer: it is not in it.)
	if len(got) != len(want) {
		for _, r := range got {
			t.Logf("record %d: %s by %s %s", r.Seq, r.Event.EventName, r.Event.UserIdentity.Type, r.Event.ErrorCode)
		}
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i].Event
		if r.EventName != w.name || r.UserIdentity.Type != w.principal || r.UserIdentity.UserName != w.user || r.ErrorCode != w.errorCode {
			t.Errorf("record %d = %s by %s/%s error %q; want %s by %s/%s error %q", i, r.EventName, r.UserIdentity.Type, r.UserIdentity.UserName, r.ErrorCode, w.name, w.principal, w.user, w.errorCode)
		}
		if w.requestID != "" && r.RequestID != w.requestID {
			t.Errorf("record %d (%s): requestID %q, want the response's %q", i, w.name, r.RequestID, w.requestID)
		}
		if r.EventVersion != "1.08" || r.EventID == "" || r.AWSRegion != testenv.Region || r.RecipientAccountID != testenv.Account || r.UserIdentity.AccountID != testenv.Account {
			t.Errorf("record %d (%s) lacks CloudTrail fields: %s", i, w.name, got[i].Raw)
		}
		wantKey := w.name != "GenerateRandom" && w.name != "DescribeKey" // a tampered blob still names its key
		if hasKey := len(r.Resources) == 1 && r.Resources[0].ARN == keyARN(testenv.Region, keyID) && r.Resources[0].Type == "AWS::KMS::Key"; hasKey != wantKey {
			t.Errorf("record %d (%s): resources %+v", i, w.name, r.Resources)
		}
	}
	// A few whitelisted parameters, as CloudTrail records them.
	if ec := got[1].Event.RequestParameters["encryptionContext"]; fmt.Sprint(ec) != "map[purpose:audit-test]" {
		t.Errorf("Encrypt's encryptionContext = %v", ec)
	}
	if got[1].Event.RequestParameters["keyId"] != keyID || !got[1].Event.ReadOnly {
		t.Errorf("Encrypt's record: %s", got[1].Raw)
	}
	if md, _ := got[0].Event.ResponseElements["keyMetadata"].(map[string]any); md["keyId"] != keyID || md["aWSAccountId"] != testenv.Account {
		t.Errorf("CreateKey's responseElements: %s", got[0].Raw)
	}
	if got[0].Event.ReadOnly || got[0].Event.EventSource != "kms.amazonaws.com" || got[0].Event.EventType != "AwsApiCall" {
		t.Errorf("CreateKey's record: %s", got[0].Raw)
	}
	if got[2].Event.UserIdentity.AccessKeyID != alice.AccessKeyID || got[2].Event.UserIdentity.ARN != "arn:aws:iam::"+testenv.Account+":user/alice" {
		t.Errorf("alice's identity: %s", got[2].Raw)
	}
	if resp := got[8].Event.ResponseElements; len(resp) != 1 || resp["grantId"] != *g.GrantId {
		t.Errorf("CreateGrant's responseElements = %v, want only the grant id", resp)
	}

	// Nothing secret anywhere in the trail.
	mustNotContain(t, "the exported trail", export, secrets)

	// GetKeyLastUsage names the last successful cryptographic use:
	// alice's GenerateDataKey (the failed Decrypt does not count).
	if lu.KeyLastUsage == nil || lu.KeyLastUsage.Operation != types.KeyLastUsageTrackingOperationGenerateDataKey ||
		aws.ToString(lu.KeyLastUsage.CloudTrailEventId) != got[dkEvent].Event.EventID || aws.ToString(lu.KeyLastUsage.KmsRequestId) != want[dkEvent].requestID {
		t.Errorf("GetKeyLastUsage = %+v, want GenerateDataKey with event %s", lu.KeyLastUsage, got[dkEvent].Event.EventID)
	}
	if lu.KeyCreationDate == nil || lu.TrackingStartDate == nil || lu.TrackingStartDate.Before(*lu.KeyCreationDate) {
		t.Errorf("GetKeyLastUsage dates: created %v, tracking from %v", lu.KeyCreationDate, lu.TrackingStartDate)
	}

	// LookupEvents over the wire: alice's events, newest first, paginated.
	ct := cloudTrailAs(env, rootCreds(env))
	var names []string
	var lookedUp bytes.Buffer
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("alice")}},
		MaxResults:       aws.Int32(2),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			names = append(names, aws.ToString(e.EventName))
			lookedUp.WriteString(aws.ToString(e.CloudTrailEvent))
			if aws.ToString(e.Username) != "alice" || aws.ToString(e.AccessKeyId) != alice.AccessKeyID || aws.ToString(e.EventSource) != "kms.amazonaws.com" {
				t.Errorf("event %+v", e)
			}
		}
	}
	if fmt.Sprint(names) != "[ScheduleKeyDeletion GenerateDataKey Decrypt Encrypt]" {
		t.Errorf("alice's events, newest first = %v", names)
	}
	mustNotContain(t, "LookupEvents", lookedUp.Bytes(), secrets)

	for _, c := range []struct {
		key, value string
		want       int
	}{
		{"EventName", "Encrypt", 2},
		{"ResourceName", keyID, 9},
		{"ResourceName", keyARN(testenv.Region, keyID), 9},
		{"AccessKeyId", alice.AccessKeyID, 4},
		{"EventId", got[dkEvent].Event.EventID, 1},
		{"ReadOnly", "false", 6}, // alice's CreateUser, CreateAccessKey and PutUserPolicy; CreateKey, ScheduleKeyDeletion, CreateGrant
	} {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKey(c.key), AttributeValue: aws.String(c.value)}},
			StartTime:        aws.Time(env.Clock.Now().Add(-time.Hour)),
		})
		if err != nil {
			t.Fatalf("LookupEvents %s=%s: %v", c.key, c.value, err)
		}
		if len(out.Events) != c.want {
			t.Errorf("LookupEvents %s=%s: %d events, want %d", c.key, c.value, len(out.Events), c.want)
		}
	}
	// A time range before everything finds nothing; two attributes are refused.
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EndTime: aws.Time(env.Clock.Now().Add(-24 * time.Hour))})
	if err != nil || len(out.Events) != 0 {
		t.Errorf("LookupEvents before the trail: %v, %d events", err, len(out.Events))
	}
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("Encrypt")},
		{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("alice")}}})
	wantAPIError(t, err, "InvalidLookupAttributesException", 400)
}

// TestAuditAccessToTheTrail: LookupEvents shows an account only its own
// events; an IAM user needs cloudtrail:LookupEvents; only the operator
// account exports; a user may not see another account's bill.
func TestAuditAccessToTheTrail(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	bob := newUserWithKey(t, env, "bob")
	_, err := cloudTrailAs(env, bob).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	wantAPIError(t, err, "AccessDeniedException", 400)
	if status, code := adminCall(t, env, bob, "ExportAuditTrail", map[string]any{}, nil); status != 400 || code != "AccessDeniedException" {
		t.Errorf("bob's export: %d %s", status, code)
	}
	if status, code := adminCall(t, env, bob, "GetBillingReport", map[string]any{}, nil); status != 400 || code != "AccessDeniedException" {
		t.Errorf("bob's bill: %d %s", status, code)
	}
	putUserPolicy(t, env, "bob", "audit", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:LookupEvents","strongroom:ExportAuditTrail","strongroom:GetBillingReport"],"Resource":"*"}]}`)
	if _, err := cloudTrailAs(env, bob).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatalf("bob may look up events now: %v", err)
	}
	verifyExport(t, exportTrail(t, env, bob))

	// Another account's root: its own events only, no export, no other bill.
	other := newAccountRoot(t, env, "444455556666")
	newKey(t, kmsAs(env, other), "other's key")
	out, err := cloudTrailAs(env, other).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Events {
		if !bytes.Contains([]byte(aws.ToString(e.CloudTrailEvent)), []byte("444455556666")) {
			t.Errorf("account 444455556666 sees another account's event: %s", aws.ToString(e.CloudTrailEvent))
		}
	}
	if len(out.Events) != 1 || aws.ToString(out.Events[0].EventName) != "CreateKey" {
		t.Errorf("account 444455556666's events: %d", len(out.Events))
	}
	if status, code := adminCall(t, env, other, "ExportAuditTrail", map[string]any{}, nil); code != "AccessDeniedException" {
		t.Errorf("another account exported the trail: %d %s", status, code)
	}
	if status, code := adminCall(t, env, other, "GetBillingReport", map[string]any{"AccountId": testenv.Account}, nil); code != "AccessDeniedException" {
		t.Errorf("another account read the operator's bill: %d %s", status, code)
	}
	if status, code := adminCall(t, env, other, "GetBillingReport", map[string]any{}, nil); status != 200 {
		t.Errorf("an account's root could not read its own bill: %d %s", status, code)
	}
}

// TestAuditBackgroundDeletion: the deletion of a key at the end of its
// waiting period is recorded as the service's own event, in the same
// transaction as the deletion, and ends the key's last-usage record.
func TestAuditBackgroundDeletion(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	keyID := *newKey(t, c, "doomed").KeyId
	encrypt(t, c, keyID, []byte("x"), nil)
	// GetKeyLastUsage refuses aliases, and a key never used has no usage.
	_, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String("alias/doomed")})
	wantCode(t, err, "NotFoundException")
	fresh := *newKey(t, c, "fresh").KeyId
	if lu := must[*kms.GetKeyLastUsageOutput](t)(c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: aws.String(keyARN(testenv.Region, fresh))})); lu.KeyLastUsage != nil || aws.ToString(lu.KeyId) != keyARN(testenv.Region, fresh) {
		t.Fatalf("a key never used: %+v", lu)
	}
	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &keyID, PendingWindowInDays: aws.Int32(7)}))
	env.Clock.Advance(7*24*time.Hour + time.Minute)
	if deleted, err := env.App.Service.DeleteDueKeys(ctx); err != nil || len(deleted) != 1 {
		t.Fatalf("DeleteDueKeys: %v %v", deleted, err)
	}
	export := exportTrail(t, env, rootCreds(env))
	verifyExport(t, export)
	recs := records(t, export)
	last := recs[len(recs)-1]
	ev := last.Event
	if ev.EventName != "DeleteKey" || ev.EventType != "AwsServiceEvent" || ev.UserIdentity.InvokedBy != "kms.amazonaws.com" ||
		ev.UserIdentity.AccountID != testenv.Account || ev.UserIdentity.Type != "" || ev.ReadOnly ||
		len(ev.Resources) != 1 || ev.Resources[0].ARN != keyARN(testenv.Region, keyID) || ev.RequestParameters != nil {
		t.Fatalf("the deletion's record: %s", last.Raw)
	}
	if !bytes.Contains(last.Raw, []byte(`"additionalEventData":{"keyId":"`+keyARN(testenv.Region, keyID)+`"}`)) {
		t.Fatalf("the deletion's record names no key: %s", last.Raw)
	}
	// LookupEvents finds it by the service's name.
	out, err := cloudTrailAs(env, rootCreds(env)).LookupEvents(ctx, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("kms.amazonaws.com")}}})
	if err != nil || len(out.Events) != 1 || aws.ToString(out.Events[0].EventName) != "DeleteKey" {
		t.Fatalf("LookupEvents for the service: %v %+v", err, out)
	}
}
