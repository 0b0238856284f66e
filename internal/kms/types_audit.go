package kms

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"strongroom/internal/arn"
	"strongroom/internal/audit"
	"strongroom/internal/identity"
	"strongroom/internal/metering"
	"strongroom/internal/store"
)

// The audit trail's side of the core: the Recorder that turns every Event
// into a CloudTrail-shaped record (keeping of a request and response only
// what the per-operation whitelist below names), meters it in the same
// transaction, and the shapes of the operations answered from the trail.

// ServiceName is the principal and source of the service's own events.
const ServiceName = "kms.amazonaws.com"

// Event sources other than KMS.
const (
	SourceKMS        = "kms.amazonaws.com"
	SourceCloudTrail = "cloudtrail.amazonaws.com"
	// SourceIAM and SourceSTS are the sources of the IAM and STS calls the
	// endpoint serves (recorded through RecordCall).
	SourceIAM = "iam.amazonaws.com"
	SourceSTS = "sts.amazonaws.com"
	// SourceStrongroom is the source of Strongroom's admin operations.
	SourceStrongroom = "strongroom"
)

// auditFields whitelists, per operation, the request members recorded as
// requestParameters and the response members recorded as
// responseElements. An operation missing here records neither, and a
// member missing from its list is never recorded: a new operation or member
// is kept out of the trail until someone lists it. On top of the lists,
// neverRecorded members and every []byte value (plaintexts, ciphertexts,
// keys, signatures, MACs, messages) are dropped at any depth.
var auditFields = map[string]opFields{
	"CancelKeyDeletion":                   {req: []string{"KeyId"}, resp: []string{"KeyId"}},
	"ConnectCustomKeyStore":               {req: []string{"CustomKeyStoreId"}},
	"CreateAlias":                         {req: []string{"AliasName", "TargetKeyId"}},
	"CreateCustomKeyStore":                {req: []string{"CustomKeyStoreName", "CloudHsmClusterId", "CustomKeyStoreType", "XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner", "XksProxyConnectivity"}, resp: []string{"CustomKeyStoreId"}},
	"CreateGrant":                         {req: []string{"KeyId", "GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints", "Name", "DryRun"}, resp: []string{"GrantId"}},
	"CreateKey":                           {req: []string{"Policy", "Description", "KeyUsage", "CustomerMasterKeySpec", "KeySpec", "Origin", "CustomKeyStoreId", "BypassPolicyLockoutSafetyCheck", "Tags", "MultiRegion", "XksKeyId"}, resp: []string{"KeyMetadata"}},
	"Decrypt":                             {req: []string{"EncryptionContext", "KeyId", "EncryptionAlgorithm", "DryRun", "DryRunModifiers"}},
	"DeleteAlias":                         {req: []string{"AliasName"}},
	"DeleteCustomKeyStore":                {req: []string{"CustomKeyStoreId"}},
	"DeleteImportedKeyMaterial":           {req: []string{"KeyId", "KeyMaterialId"}, resp: []string{"KeyId", "KeyMaterialId"}},
	"DeriveSharedSecret":                  {req: []string{"KeyId", "KeyAgreementAlgorithm", "DryRun"}},
	"DescribeCustomKeyStores":             {req: []string{"CustomKeyStoreId", "CustomKeyStoreName", "Limit", "Marker"}},
	"DescribeKey":                         {req: []string{"KeyId"}},
	"DisableKey":                          {req: []string{"KeyId"}},
	"DisableKeyRotation":                  {req: []string{"KeyId"}},
	"DisconnectCustomKeyStore":            {req: []string{"CustomKeyStoreId"}},
	"EnableKey":                           {req: []string{"KeyId"}},
	"EnableKeyRotation":                   {req: []string{"KeyId", "RotationPeriodInDays"}},
	"Encrypt":                             {req: []string{"KeyId", "EncryptionContext", "EncryptionAlgorithm", "DryRun"}},
	"GenerateDataKey":                     {req: []string{"KeyId", "EncryptionContext", "NumberOfBytes", "KeySpec", "DryRun"}},
	"GenerateDataKeyPair":                 {req: []string{"EncryptionContext", "KeyId", "KeyPairSpec", "DryRun"}},
	"GenerateDataKeyPairWithoutPlaintext": {req: []string{"EncryptionContext", "KeyId", "KeyPairSpec", "DryRun"}},
	"GenerateDataKeyWithoutPlaintext":     {req: []string{"KeyId", "EncryptionContext", "KeySpec", "NumberOfBytes", "DryRun"}},
	"GenerateMac":                         {req: []string{"KeyId", "MacAlgorithm", "DryRun"}},
	"GenerateRandom":                      {req: []string{"NumberOfBytes", "CustomKeyStoreId"}},
	"GetKeyLastUsage":                     {req: []string{"KeyId"}},
	"GetKeyPolicy":                        {req: []string{"KeyId", "PolicyName"}},
	"GetKeyRotationStatus":                {req: []string{"KeyId"}},
	"GetParametersForImport":              {req: []string{"KeyId", "WrappingAlgorithm", "WrappingKeySpec"}},
	"GetPublicKey":                        {req: []string{"KeyId"}},
	"ImportKeyMaterial":                   {req: []string{"KeyId", "ValidTo", "ExpirationModel", "ImportType", "KeyMaterialDescription", "KeyMaterialId"}, resp: []string{"KeyId", "KeyMaterialId"}},
	"ListAliases":                         {req: []string{"KeyId", "Limit", "Marker"}},
	"ListGrants":                          {req: []string{"Limit", "Marker", "KeyId", "GrantId", "GranteePrincipal"}},
	"ListKeyPolicies":                     {req: []string{"KeyId", "Limit", "Marker"}},
	"ListKeyRotations":                    {req: []string{"KeyId", "IncludeKeyMaterial", "Limit", "Marker"}},
	"ListKeys":                            {req: []string{"Limit", "Marker"}},
	"ListResourceTags":                    {req: []string{"KeyId", "Limit", "Marker"}},
	"ListRetirableGrants":                 {req: []string{"Limit", "Marker", "RetiringPrincipal"}},
	"PutKeyPolicy":                        {req: []string{"KeyId", "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck"}},
	"ReEncrypt":                           {req: []string{"SourceEncryptionContext", "SourceKeyId", "DestinationKeyId", "DestinationEncryptionContext", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm", "DryRun", "DryRunModifiers"}},
	"ReplicateKey":                        {req: []string{"KeyId", "ReplicaRegion", "Policy", "BypassPolicyLockoutSafetyCheck", "Description", "Tags"}, resp: []string{"ReplicaKeyMetadata"}},
	"RetireGrant":                         {req: []string{"KeyId", "GrantId", "DryRun"}},
	"RevokeGrant":                         {req: []string{"KeyId", "GrantId", "DryRun"}},
	"RotateKeyOnDemand":                   {req: []string{"KeyId"}, resp: []string{"KeyId"}},
	"ScheduleKeyDeletion":                 {req: []string{"KeyId", "PendingWindowInDays"}, resp: []string{"KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"}},
	"Sign":                                {req: []string{"KeyId", "MessageType", "SigningAlgorithm", "DryRun"}},
	"TagResource":                         {req: []string{"KeyId", "Tags"}},
	"UntagResource":                       {req: []string{"KeyId", "TagKeys"}},
	"UpdateAlias":                         {req: []string{"AliasName", "TargetKeyId"}},
	"UpdateCustomKeyStore":                {req: []string{"CustomKeyStoreId", "NewCustomKeyStoreName", "CloudHsmClusterId", "XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner", "XksProxyConnectivity"}},
	"UpdateKeyDescription":                {req: []string{"KeyId", "Description"}},
	"UpdatePrimaryRegion":                 {req: []string{"KeyId", "PrimaryRegion"}},
	"Verify":                              {req: []string{"KeyId", "MessageType", "SigningAlgorithm", "DryRun"}},
	"VerifyMac":                           {req: []string{"KeyId", "MacAlgorithm", "DryRun"}},

	// Answered from the trail (CloudTrail and Strongroom's admin API).
	"LookupEvents":     {req: []string{"LookupAttributes", "StartTime", "EndTime", "EventCategory", "MaxResults"}},
	"ExportAuditTrail": {req: []string{"StartTime", "EndTime"}},
	"GetBillingReport": {req: []string{"AccountId", "Month"}},
}

// opFields lists the request members and the response members of one
// operation that its record keeps.
type opFields struct{ req, resp []string }

// queryAuditFields whitelists, per source and action, the query parameters
// of IAM and STS calls recorded as requestParameters and the members of
// their results recorded as responseElements, as auditFields does for KMS.
// Policy documents are recorded, as CloudTrail does: they are not secret.
// Secret access keys and session tokens are neverRecorded, so that
// CreateAccessKey, CreateAccount and AssumeRole record the access key id
// and not its secret.
var queryAuditFields = map[string]map[string]opFields{
	SourceIAM: {
		"CreateUser":       {req: []string{"UserName", "Path"}, resp: []string{"User"}},
		"GetUser":          {req: []string{"UserName"}},
		"ListUsers":        {req: []string{"PathPrefix", "Marker", "MaxItems"}},
		"DeleteUser":       {req: []string{"UserName"}},
		"PutUserPolicy":    {req: []string{"UserName", "PolicyName", "PolicyDocument"}},
		"GetUserPolicy":    {req: []string{"UserName", "PolicyName"}},
		"DeleteUserPolicy": {req: []string{"UserName", "PolicyName"}},
		"ListUserPolicies": {req: []string{"UserName", "Marker", "MaxItems"}},
		"CreateAccessKey":  {req: []string{"UserName"}, resp: []string{"AccessKey"}},
		"ListAccessKeys":   {req: []string{"UserName", "Marker", "MaxItems"}},
		"UpdateAccessKey":  {req: []string{"UserName", "AccessKeyId", "Status"}},
		"DeleteAccessKey":  {req: []string{"UserName", "AccessKeyId"}},
		"CreateRole":       {req: []string{"RoleName", "Path", "AssumeRolePolicyDocument", "Description", "MaxSessionDuration"}, resp: []string{"Role"}},
		"GetRole":          {req: []string{"RoleName"}},
		"ListRoles":        {req: []string{"PathPrefix", "Marker", "MaxItems"}},
		"DeleteRole":       {req: []string{"RoleName"}},
		"PutRolePolicy":    {req: []string{"RoleName", "PolicyName", "PolicyDocument"}},
		"GetRolePolicy":    {req: []string{"RoleName", "PolicyName"}},
		"DeleteRolePolicy": {req: []string{"RoleName", "PolicyName"}},
		"ListRolePolicies": {req: []string{"RoleName", "Marker", "MaxItems"}},
		"CreateAccount":    {req: []string{"AccountId"}, resp: []string{"Account", "AccessKey"}},
	},
	SourceSTS: {
		"GetCallerIdentity": {},
		"AssumeRole":        {req: []string{"RoleArn", "RoleSessionName", "DurationSeconds", "ExternalId"}, resp: []string{"Credentials", "AssumedRoleUser"}},
	},
}

// queryNumbers are the query parameters recorded as numbers, as CloudTrail
// does.
var queryNumbers = map[string]bool{"MaxItems": true, "MaxSessionDuration": true, "DurationSeconds": true}

// queryReadOnly reports whether CloudTrail marks an IAM or STS action
// readOnly: the reads of IAM, and every STS call.
func queryReadOnly(source, op string) bool {
	return source == SourceSTS || strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List")
}

// serviceEventFields whitelists what a background event records as
// additionalEventData.
var serviceEventFields = []string{"KeyId", "RotationType", "KeyMaterialId"}

// neverRecorded names members that hold secrets or blobs: dropped wherever
// they appear, even if a whitelist names them by mistake.
var neverRecorded = map[string]bool{
	"Plaintext": true, "CiphertextBlob": true, "PrivateKeyPlaintext": true, "PrivateKeyCiphertextBlob": true,
	"PublicKey": true, "Signature": true, "Mac": true, "Message": true, "SharedSecret": true,
	"GrantToken": true, "GrantTokens": true, "KeyStorePassword": true, "XksProxyAuthenticationCredential": true,
	"ImportToken": true, "EncryptedKeyMaterial": true, "CiphertextForRecipient": true, "Recipient": true,
	"AttestationDocument": true, "SecretAccessKey": true, "SessionToken": true, "NextToken": true,
	"Password": true, "OldPassword": true, "NewPassword": true, "TokenCode": true, "SAMLAssertion": true, "WebIdentityToken": true,
}

// readOnlyOps are the operations CloudTrail marks readOnly: they change no
// resource (cryptographic operations included).
var readOnlyOps = map[string]bool{
	"DescribeCustomKeyStores": true, "DescribeKey": true, "GetKeyLastUsage": true, "GetKeyPolicy": true,
	"GetKeyRotationStatus": true, "GetParametersForImport": true, "GetPublicKey": true, "ListAliases": true,
	"ListGrants": true, "ListKeyPolicies": true, "ListKeyRotations": true, "ListKeys": true,
	"ListResourceTags": true, "ListRetirableGrants": true,
	"Decrypt": true, "DeriveSharedSecret": true, "Encrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true, "GenerateDataKeyWithoutPlaintext": true,
	"GenerateMac": true, "GenerateRandom": true, "ReEncrypt": true, "Sign": true, "Verify": true, "VerifyMac": true,
	"LookupEvents": true, "ExportAuditTrail": true, "GetBillingReport": true,
}

// eventSources names the source of operations that are not KMS's.
var eventSources = map[string]string{
	"LookupEvents":     SourceCloudTrail,
	"ExportAuditTrail": SourceStrongroom,
	"GetBillingReport": SourceStrongroom,
}

// trackedOps are the cryptographic operations GetKeyLastUsage reports
// (KMS's KeyLastUsageTrackingOperation).
var trackedOps = map[string]bool{
	"Decrypt": true, "DeriveSharedSecret": true, "Encrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true, "GenerateDataKeyWithoutPlaintext": true,
	"GenerateMac": true, "ReEncrypt": true, "Sign": true, "Verify": true, "VerifyMac": true,
}

// asymmetricOps are charged by the key's spec: more for asymmetric keys.
var asymmetricOps = map[string]bool{
	"Encrypt": true, "Decrypt": true, "ReEncrypt": true, "Sign": true, "Verify": true,
	"GetPublicKey": true, "DeriveSharedSecret": true,
}

// ServiceEventInput is the input of a background event: what the service
// did on its own (deleting a key at the end of its waiting period, rotating
// a key, creating an AWS managed key).
type ServiceEventInput struct {
	KeyId         string
	RotationType  string
	KeyMaterialId string
}

// AuditConfig configures an AuditRecorder.
type AuditConfig struct {
	Trail *audit.Trail
	// OperatorAccount's principals (its root, or IAM principals an identity
	// policy allows) may export the whole trail and see any account's bill.
	OperatorAccount string
	// Prices is the default price table of bills (nil: the chapter's).
	Prices *metering.PriceTable
}

// AuditRecorder is the Recorder of the audit trail and the meter. Install it
// with Service.SetRecorder.
type AuditRecorder struct {
	svc *Service
	cfg AuditConfig

	mu    sync.Mutex
	facts map[string]keyFacts // key ARN → facts that never change
}

type keyFacts struct {
	spec, manager string
	created       int64
}

const maxFacts = 100000

// NewAuditRecorder returns the recorder writing svc's events to cfg.Trail.
func NewAuditRecorder(svc *Service, cfg AuditConfig) *AuditRecorder {
	if cfg.Prices == nil {
		cfg.Prices = metering.DefaultPrices()
	}
	cfg.Trail.SetEffects(applyAuditEffects)
	return &AuditRecorder{svc: svc, cfg: cfg, facts: map[string]keyFacts{}}
}

// TxRecorder is a Recorder that can also record inside a store transaction,
// so that a background change and its record commit together.
type TxRecorder interface {
	Recorder
	RecordTx(tx store.Tx, ev *Event) error
}

var _ TxRecorder = (*AuditRecorder)(nil)

// Record writes ev's record (and meters it) and returns once it is durable.
func (r *AuditRecorder) Record(ctx context.Context, ev *Event) error {
	e := r.entry(ctx, nil, ev)
	err := r.cfg.Trail.Append(ctx, e)
	// Append encoded the event before it returned and keeps no reference
	// to it: it serves the next record.
	req, resp, res := e.Event.RawRequestParameters[:0], e.Event.RawResponseElements[:0], e.Event.Resources[:0]
	if cap(req) > 16<<10 { // a large policy's: not kept for every call
		req = nil
	}
	if cap(resp) > 16<<10 {
		resp = nil
	}
	*e.Event = audit.Event{RawRequestParameters: req, RawResponseElements: resp, Resources: res}
	events.Put(e.Event)
	return err
}

// events recycles the audit events Record builds (the largest allocation
// of a record).
var events = sync.Pool{New: func() any { return new(audit.Event) }}

// RecordTx writes ev's record in tx.
func (r *AuditRecorder) RecordTx(tx store.Tx, ev *Event) error {
	e := r.entry(context.Background(), tx, ev)
	rt, ok := tx.(*recordingTx)
	if !ok {
		return r.cfg.Trail.AppendTx(tx, e)
	}
	// Service.update says when the transaction has ended: the record then
	// takes its place in the trail at once (audit.Trail.AppendTxQueued).
	done, err := r.cfg.Trail.AppendTxQueued(tx, e)
	if err != nil {
		return err
	}
	rt.after = append(rt.after, done)
	rt.records++ // counted once the transaction commits (Service.update)
	return nil
}

// auditor returns the service's AuditRecorder, or nil.
func (s *Service) auditor() *AuditRecorder {
	r, _ := s.recorder.(*AuditRecorder)
	return r
}

// RecordServiceEvent records, inside tx, an event of the service itself on
// key k: op is the CloudTrail event name ("DeleteKey" at the end of a
// waiting period, "RotateKey" for a scheduled rotation, "CreateKey" for an
// AWS managed key), in carries what may be recorded of it. The record
// commits with tx or not at all.
func (s *Service) recordServiceEvent(tx store.Tx, op string, k *keyRecord, in *ServiceEventInput) error {
	tr, ok := s.recorder.(TxRecorder)
	if !ok {
		return nil
	}
	now := s.clock.Now()
	if in == nil {
		in = &ServiceEventInput{}
	}
	if in.KeyId == "" {
		in.KeyId = k.arn()
	}
	c := &Call{
		Principal: identity.Principal{Account: k.Account, Type: identity.TypeAWSService, Name: ServiceName},
		Region:    k.Region, SourceIP: ServiceName, UserAgent: ServiceName,
		Resources: []string{k.arn()},
	}
	return tr.RecordTx(tx, &Event{Operation: op, Call: c, Input: in, Start: now, End: now})
}

// entry builds ev's record and what it changes in the meter. tx is set when
// the entry is written inside a caller's transaction (no other store access
// is allowed then).
func (r *AuditRecorder) entry(ctx context.Context, tx store.Tx, ev *Event) *audit.Entry {
	c := ev.Call
	if c == nil {
		c = &Call{}
	}
	source := SourceKMS
	if ev.Source != "" {
		source = ev.Source
	} else if s, ok := eventSources[ev.Operation]; ok {
		source = s
	}
	fields, readOnly := auditFields[ev.Operation], readOnlyOps[ev.Operation]
	if ops, ok := queryAuditFields[source]; ok {
		fields, readOnly = ops[ev.Operation], queryReadOnly(source, ev.Operation)
	}
	svcIn, service := ev.Input.(*ServiceEventInput)
	e := newEvent(tx)
	req, resp, res := e.RawRequestParameters[:0], e.RawResponseElements[:0], e.Resources[:0] // a recycled event's buffers
	*e = audit.Event{
		EventVersion:    audit.EventVersion,
		UserIdentity:    userIdentity(c.Principal),
		EventTime:       ev.Start.UTC().Format(audit.TimeFormat),
		EventSource:     source,
		EventName:       ev.Operation,
		AWSRegion:       c.Region,
		SourceIPAddress: c.SourceIP,
		UserAgent:       c.UserAgent,
		RequestID:       c.RequestID,
		EventID:         audit.NewEventID(),
		ReadOnly:        readOnly,
		EventType:       audit.EventTypeCall,
		ManagementEvent: true,
		EventCategory:   audit.CategoryMgmt,
	}
	if service {
		e.EventType = audit.EventTypeService
		e.AdditionalEventData = whitelist(svcIn, serviceEventFields)
	} else {
		e.RawRequestParameters = appendWhitelist(req, ev.Input, fields.req)
	}
	if ev.Err != nil {
		e.ErrorCode, e.ErrorMessage = auditError(ev.Err)
	} else if !service {
		e.RawResponseElements = appendWhitelist(resp, ev.Output, fields.resp)
	}
	resources := c.Resources
	if md := keyMetadataOf(ev.Output); md != nil && !containsString(resources, md.Arn) { // a key created
		resources = append(resources[:len(resources):len(resources)], md.Arn)
	}
	e.RecipientAccountID = c.Principal.Account
	e.Resources = res
	for i, a := range resources {
		p, err := arn.Parse(a)
		if err != nil {
			continue
		}
		e.Resources = append(e.Resources, audit.Resource{AccountID: p.Account, Type: "AWS::KMS::Key", ARN: a})
		if i == 0 && p.Account != "" {
			e.RecipientAccountID = p.Account
		}
	}
	// A read-only call may be answered while the store refuses writes; its
	// record waits in memory (audit.Entry.MayWait). So may a call refused
	// before the core, which changed nothing. A call that changes
	// something fails with its own write anyway.
	entry := &audit.Entry{Event: e, MayWait: (e.ReadOnly || ev.outside && ev.Err != nil) && !service}
	if source != SourceKMS {
		return entry
	}
	if eff := r.metered(ctx, tx, ev, e, resources, service); eff != nil {
		entry.Effect = eff
	}
	return entry
}

// newEvent returns an event to fill: recycled for Record (tx nil), whose
// events do not outlive it; new for a record written in a transaction.
func newEvent(tx store.Tx) *audit.Event {
	if tx != nil {
		return new(audit.Event)
	}
	return events.Get().(*audit.Event)
}

// auditEffect is what one record changes besides the trail: the meter, and
// keys' last uses (GetKeyLastUsage). The effects of the records of one
// transaction are applied together (applyAuditEffects).
type auditEffect struct {
	usage  *metering.Usage
	uses   []keyUse
	forget []string // keys deleted: their last use goes

	// Room for what a request's record has (metered): its effect is then
	// one allocation, not four.
	usageV metering.Usage
	reqV   metering.Request
	useV   [1]keyUse
}

type keyUse struct {
	keyARN string
	use    keyUsage
}

// applyAuditEffects applies the effects of one transaction's records: one
// update per meter counter and per key, whatever the number of records.
func applyAuditEffects(tx store.Tx, effects []any) error {
	var usages []*metering.Usage
	type state struct {
		use    *keyUsage
		forget bool
	}
	keys := map[string]*state{}
	var order []string
	get := func(a string) *state {
		st := keys[a]
		if st == nil {
			st = &state{}
			keys[a] = st
			order = append(order, a)
		}
		return st
	}
	for _, e := range effects {
		eff, ok := e.(*auditEffect)
		if !ok {
			continue
		}
		if eff.usage != nil {
			usages = append(usages, eff.usage)
		}
		for _, a := range eff.forget {
			st := get(a)
			st.forget, st.use = true, nil
		}
		for _, u := range eff.uses {
			if st := get(u.keyARN); st.use == nil || u.use.Time >= st.use.Time {
				st.use = &u.use
			}
		}
	}
	if err := metering.AddAll(tx, usages); err != nil {
		return err
	}
	for _, a := range order {
		st := keys[a]
		if st.forget {
			if err := forgetUsage(tx, a); err != nil {
				return err
			}
		}
		if st.use != nil {
			if err := noteUsage(tx, a, *st.use); err != nil {
				return err
			}
		}
	}
	return nil
}

var keyMetadataType = reflect.TypeFor[*KeyMetadata]()

// keyMetadataOf returns the metadata of the key an operation created: the
// *KeyMetadata member of its output (CreateKey's KeyMetadata,
// ReplicateKey's ReplicaKeyMetadata), or nil.
func keyMetadataOf(out any) *KeyMetadata {
	switch o := out.(type) {
	case nil:
		return nil
	case *CreateKeyOutput:
		return o.KeyMetadata
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	rv = rv.Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Type() == keyMetadataType && !f.IsNil() {
			return f.Interface().(*KeyMetadata)
		}
	}
	return nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// metered returns what ev changes besides the trail: the meter, and the
// last use of keys (GetKeyLastUsage). Nil when nothing.
func (r *AuditRecorder) metered(ctx context.Context, tx store.Tx, ev *Event, e *audit.Event, resources []string, service bool) *auditEffect {
	eff := &auditEffect{}
	u := &eff.usageV
	change := func(what string, keyARN string, at time.Time) {
		p, err := arn.Parse(keyARN)
		if err != nil {
			return
		}
		u.Key = &metering.KeyChange{Account: p.Account, Region: p.Region, KeyID: strings.TrimPrefix(p.Resource, "key/"), What: what, Time: at}
	}
	if service {
		switch ev.Operation {
		case "DeleteKey":
			for _, a := range resources {
				change(metering.KeyDeleted, a, ev.Start)
				eff.forget = append(eff.forget, a)
			}
		case "RotateKey":
			for _, a := range resources {
				change(metering.KeyRotated, a, ev.Start)
			}
		}
		if u.Key != nil {
			eff.usage = u
		}
		if eff.usage == nil && len(eff.forget) == 0 {
			return nil
		}
		return eff
	}
	if ev.Err != nil {
		return nil
	}
	c := ev.Call
	eff.reqV = metering.Request{Account: c.Principal.Account, Region: c.Region, Time: ev.Start, Class: r.class(ctx, tx, ev, resources)}
	u.Request = &eff.reqV
	switch ev.Operation {
	case "CreateKey", "ReplicateKey": // a replica is a key of its own, charged as one
		if md := keyMetadataOf(ev.Output); md != nil && md.KeyManager == ManagerCustomer {
			at := ev.Start
			if md.CreationDate != nil {
				at = md.CreationDate.Time
			}
			change(metering.KeyCreated, md.Arn, at)
		}
	case "ScheduleKeyDeletion":
		if len(resources) > 0 {
			change(metering.KeyScheduled, resources[0], ev.Start)
		}
	case "CancelKeyDeletion":
		if len(resources) > 0 {
			change(metering.KeyCancelled, resources[0], ev.Start)
		}
	case "RotateKeyOnDemand":
		if len(resources) > 0 {
			change(metering.KeyRotated, resources[0], ev.Start)
		}
	}
	if trackedOps[ev.Operation] {
		eff.uses = eff.useV[:0]
		for _, a := range resources {
			eff.uses = append(eff.uses, keyUse{a, keyUsage{Operation: ev.Operation, Time: ev.Start.UnixMilli(), EventID: e.EventID, RequestID: c.RequestID}})
		}
	}
	eff.usage = u
	return eff
}

// class is the price class of a successful KMS request.
func (r *AuditRecorder) class(ctx context.Context, tx store.Tx, ev *Event, resources []string) string {
	switch {
	case ev.Operation == "GenerateDataKeyPair" || ev.Operation == "GenerateDataKeyPairWithoutPlaintext":
		if in, ok := ev.Input.(*GenerateDataKeyPairInput); ok && strings.HasPrefix(in.KeyPairSpec, "RSA_") {
			return metering.ClassDataKeyPairRSA
		}
		return metering.ClassDataKeyPairECC
	case asymmetricOps[ev.Operation] && len(resources) > 0:
		f, ok := r.keyFacts(ctx, tx, resources[0])
		if !ok {
			return metering.ClassSymmetric
		}
		switch {
		case f.spec == "RSA_2048":
			return metering.ClassRSA2048
		case isAsymmetricSpec(f.spec):
			return metering.ClassAsymmetric
		}
	}
	return metering.ClassSymmetric
}

func isAsymmetricSpec(spec string) bool {
	for _, p := range []string{"RSA_", "ECC_", "SM2", "ML_DSA_"} {
		if strings.HasPrefix(spec, p) {
			return true
		}
	}
	return false
}

// keyFacts returns the immutable facts of the key keyARN, from a cache or
// the store (through tx when inside one).
func (r *AuditRecorder) keyFacts(ctx context.Context, tx store.Tx, keyARN string) (keyFacts, bool) {
	r.mu.Lock()
	f, ok := r.facts[keyARN]
	r.mu.Unlock()
	if ok {
		return f, true
	}
	p, err := arn.Parse(keyARN)
	if err != nil {
		return f, false
	}
	id := strings.TrimPrefix(p.Resource, "key/")
	read := func(tx store.Tx) error {
		k, err := getKey(tx, p.Account, p.Region, id)
		if err != nil {
			return err
		}
		f = keyFacts{spec: k.Spec, manager: k.Manager, created: k.Created}
		return nil
	}
	if tx != nil {
		err = read(tx)
	} else {
		err = r.svc.view(ctx, read)
	}
	if err != nil {
		return f, false
	}
	r.mu.Lock()
	if len(r.facts) >= maxFacts {
		clear(r.facts)
	}
	r.facts[keyARN] = f
	r.mu.Unlock()
	return f, true
}

// keyUsage is a key's last cryptographic use, in KindKeyUsage.
type keyUsage struct {
	Operation string `json:"op"`
	Time      int64  `json:"time"` // Unix milliseconds
	EventID   string `json:"eventId"`
	RequestID string `json:"requestId"`
}

func usageRef(keyARN string) (scope, id string, ok bool) {
	p, err := arn.Parse(keyARN)
	if err != nil {
		return "", "", false
	}
	return scopeOf(p.Account, p.Region), strings.TrimPrefix(p.Resource, "key/"), true
}

// noteUsage records u as keyARN's last use, unless a later use is already
// recorded.
func noteUsage(tx store.Tx, keyARN string, u keyUsage) error {
	scope, id, ok := usageRef(keyARN)
	if !ok {
		return nil
	}
	if b, err := tx.Get(store.KindKeyUsage, scope, id); err == nil {
		var old keyUsage
		if json.Unmarshal(b, &old) == nil && old.Time > u.Time {
			return nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	b, _ := json.Marshal(u)
	return tx.Put(store.KindKeyUsage, scope, id, b)
}

func forgetUsage(tx store.Tx, keyARN string) error {
	scope, id, ok := usageRef(keyARN)
	if !ok {
		return nil
	}
	if err := tx.Delete(store.KindKeyUsage, scope, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// auditError is what a record says of a failed call: the AWS error code and
// message the client got, or a generic internal error (whose details are
// logged with the request id, never recorded).
func auditError(err error) (code, msg string) {
	if e, ok := AsError(err); ok {
		return e.Code, e.Message
	}
	if errors.Is(err, context.Canceled) {
		return "RequestCanceled", "The request was canceled."
	}
	return "KMSInternalException", "An internal error occurred."
}

// userIdentity is CloudTrail's userIdentity of p.
func userIdentity(p identity.Principal) audit.UserIdentity {
	u := audit.UserIdentity{Type: p.Type, PrincipalID: p.PrincipalID, ARN: p.ARN, AccountID: p.Account, AccessKeyID: p.AccessKeyID}
	switch p.Type {
	case identity.TypeIAMUser:
		u.UserName = p.Name
	case identity.TypeAssumedRole:
		roleID, _, _ := strings.Cut(p.PrincipalID, ":")
		roleName := p.RoleARN[strings.LastIndexByte(p.RoleARN, '/')+1:]
		u.SessionContext = &audit.SessionContext{SessionIssuer: audit.SessionIssuer{Type: "Role", PrincipalID: roleID, ARN: p.RoleARN, AccountID: p.Account, UserName: roleName}}
	case identity.TypeAWSService:
		u = audit.UserIdentity{AccountID: p.Account, InvokedBy: p.Name}
	}
	return u
}

// whitelist renders the members of v (a pointer to a struct) that names
// lists, as CloudTrail does: lowerCamelCase member names, zero values left
// out, never a neverRecorded member or a []byte. Nil when nothing remains.
// v may also be the url.Values of a query-protocol call.
func whitelist(v any, names []string) map[string]any {
	if v == nil || len(names) == 0 {
		return nil
	}
	if q, ok := v.(url.Values); ok {
		return whitelistQuery(q, names)
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	var out map[string]any
	for _, f := range whitelistFields(rv.Type(), names) {
		if x, ok := safeValue(rv.FieldByIndex(f.index), 0); ok {
			if out == nil {
				out = make(map[string]any, len(names))
			}
			out[f.name] = x
		}
	}
	return out
}

// whitelistQuery renders the parameters of q that names lists (first
// values only; list parameters such as Tags.member.N are never listed).
func whitelistQuery(q url.Values, names []string) map[string]any {
	var out map[string]any
	for _, n := range names {
		v := q.Get(n)
		if v == "" || neverRecorded[n] {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(names))
		}
		if i, err := strconv.ParseInt(v, 10, 64); err == nil && queryNumbers[n] {
			out[lowerFirst(n)] = i
		} else {
			out[lowerFirst(n)] = v
		}
	}
	return out
}

// recordedField is a whitelisted member of a struct type: where it is and
// the name it is recorded under.
type recordedField struct {
	index []int
	name  string
}

type whitelistKey struct {
	t     reflect.Type
	names *string // the list's first element: each list is a table entry
}

var whitelistCache sync.Map // whitelistKey → []recordedField

// whitelistFields returns the members of t that names lists (and that are
// not neverRecorded), looked up once per type and list.
func whitelistFields(t reflect.Type, names []string) []recordedField {
	k := whitelistKey{t, &names[0]}
	if v, ok := whitelistCache.Load(k); ok {
		return v.([]recordedField)
	}
	var fs []recordedField
	for _, n := range names {
		if neverRecorded[n] {
			continue
		}
		if f, ok := t.FieldByName(n); ok && f.IsExported() {
			fs = append(fs, recordedField{index: f.Index, name: lowerFirst(n)})
		}
	}
	whitelistCache.Store(k, fs)
	return fs
}

var timeType = reflect.TypeFor[Time]()
var stdTimeType = reflect.TypeFor[time.Time]()

// safeValue renders v for a record; ok is false for values left out: zero
// values, []byte, and anything deeper than a few levels.
func safeValue(v reflect.Value, depth int) (any, bool) {
	if depth > 6 {
		return nil, false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return safeValue(v.Elem(), depth)
	case reflect.String:
		if v.Len() == 0 {
			return nil, false
		}
		return v.String(), true
	case reflect.Bool:
		if !v.Bool() {
			return nil, false
		}
		return true, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), v.Int() != 0
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), v.Uint() != 0
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 || v.Len() == 0 {
			return nil, false // blobs, never recorded
		}
		out := make([]any, 0, v.Len())
		for i := range v.Len() {
			if x, ok := safeValue(v.Index(i), depth+1); ok {
				out = append(out, x)
			}
		}
		return out, len(out) > 0
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Len() == 0 {
			return nil, false
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			if x, ok := safeValue(it.Value(), depth+1); ok {
				out[it.Key().String()] = x
			}
		}
		return out, len(out) > 0
	case reflect.Struct:
		switch v.Type() {
		case timeType:
			return v.Interface().(Time).UTC().Format(audit.TimeFormat), true
		case stdTimeType:
			t := v.Interface().(time.Time)
			if t.IsZero() {
				return nil, false
			}
			return t.UTC().Format(audit.TimeFormat), true
		}
		fields := recordedMembers(v.Type())
		out := make(map[string]any, len(fields))
		for _, f := range fields {
			if x, ok := safeValue(v.Field(f.i), depth+1); ok {
				out[f.name] = x
			}
		}
		return out, len(out) > 0
	}
	return nil, false
}

// recordedMember is a struct member a record may show: its index and the
// name it is recorded under.
type recordedMember struct {
	i    int
	name string
}

var membersCache sync.Map // reflect.Type → []recordedMember

// recordedMembers returns t's exported members that are not neverRecorded,
// with their recorded names, worked out once per type.
func recordedMembers(t reflect.Type) []recordedMember {
	if v, ok := membersCache.Load(t); ok {
		return v.([]recordedMember)
	}
	var ms []recordedMember
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || neverRecorded[sf.Name] {
			continue
		}
		ms = append(ms, recordedMember{i, lowerFirst(memberName(sf))})
	}
	membersCache.Store(t, ms)
	return ms
}

// memberName is the wire name of a struct member: its XML element name
// when it has one (the query protocol's results: "AccessKeyId", not
// "AccessKeyID"), else its Go name.
func memberName(sf reflect.StructField) string {
	if tag, ok := sf.Tag.Lookup("xml"); ok {
		if n, _, _ := strings.Cut(tag, ","); n != "" && !strings.ContainsAny(n, "> ") {
			return n
		}
	}
	return sf.Name
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// The shapes of the operations answered from the trail.

type GetKeyLastUsageInput struct {
	KeyId string
}

type GetKeyLastUsageOutput struct {
	KeyId             string
	KeyLastUsage      *KeyLastUsageData `json:",omitempty"`
	TrackingStartDate *Time
	KeyCreationDate   *Time
}

// KeyLastUsageData is a key's last successful cryptographic use.
type KeyLastUsageData struct {
	Operation         string
	Timestamp         *Time
	CloudTrailEventId string
	KmsRequestId      string `json:",omitempty"`
}

// LookupEventsInput is CloudTrail's LookupEvents request.
type LookupEventsInput struct {
	LookupAttributes []LookupAttribute
	StartTime        *Time
	EndTime          *Time
	EventCategory    *string
	MaxResults       *int32
	NextToken        *string
}

type LookupAttribute struct {
	AttributeKey   string
	AttributeValue string
}

type LookupEventsOutput struct {
	Events    []TrailEvent
	NextToken string `json:",omitempty"`
}

// TrailEvent is one event of LookupEvents; CloudTrailEvent is the whole
// record as a JSON string.
type TrailEvent struct {
	EventId         string
	EventName       string
	ReadOnly        string
	AccessKeyId     string `json:",omitempty"`
	EventTime       *Time
	EventSource     string
	Username        string `json:",omitempty"`
	Resources       []TrailResource
	CloudTrailEvent string
}

type TrailResource struct {
	ResourceType string
	ResourceName string
}

// ExportAuditTrailInput is the admin API's export request: records whose
// eventTime lies in [StartTime, EndTime] (either may be absent), a page of
// at most MaxLines lines at a time.
type ExportAuditTrailInput struct {
	StartTime *Time
	EndTime   *Time
	MaxLines  *int32
	NextToken *string
}

// ExportAuditTrailOutput is one page of an export: JSON lines in trail
// order (see docs/audit.md), to be written one per line as they are.
type ExportAuditTrailOutput struct {
	Lines     []string
	NextToken string `json:",omitempty"`
}

// GetBillingReportInput asks for an account's bill for a month
// ("2026-11"); AccountId defaults to the caller's, Month to the current one.
// PriceTable, if given, replaces members of the server's price table for
// this report.
type GetBillingReportInput struct {
	AccountId  *string
	Month      *string
	PriceTable json.RawMessage `json:",omitempty"`
}

type GetBillingReportOutput struct {
	Bill *metering.Bill
}
