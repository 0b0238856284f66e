package kms

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"strongroom/internal/arn"
	"strongroom/internal/audit"
	"strongroom/internal/metering"
	"strongroom/internal/store"
)

// The operations answered from the audit trail: GetKeyLastUsage (KMS),
// LookupEvents (CloudTrail), and the admin API's ExportAuditTrail and
// GetBillingReport. Like every operation they authorize the caller and are
// themselves recorded.

func errTrailOff() *Error {
	return errUnsupported("The audit trail is not enabled on this server.")
}

// GetKeyLastUsage returns when a key was last used for a successful
// cryptographic operation, with the id of that operation's audit record.
func (s *Service) GetKeyLastUsage(ctx context.Context, c *Call, in *GetKeyLastUsageInput) (*GetKeyLastUsageOutput, error) {
	if strings.HasPrefix(in.KeyId, "alias/") || strings.Contains(in.KeyId, ":alias/") {
		return nil, errNotFound("Alias names are not supported by GetKeyLastUsage: specify the key ID or key ARN.")
	}
	r, err := s.resolve(ctx, c, in.KeyId)
	if err != nil {
		return nil, err
	}
	k := r.key
	if k.Account != c.Principal.Account { // no cross-account use
		return nil, errNotFound("Key '%s' does not exist", k.arn())
	}
	if err := s.authorize(ctx, c, "kms:GetKeyLastUsage", k); err != nil {
		return nil, err
	}
	a := s.auditor()
	if a == nil {
		return nil, errTrailOff()
	}
	if err := a.cfg.Trail.Sync(ctx); err != nil { // every use acknowledged so far
		return nil, err
	}
	genesis, err := a.cfg.Trail.Genesis(ctx)
	if err != nil {
		return nil, err
	}
	created := time.Unix(k.Created, 0).UTC()
	out := &GetKeyLastUsageOutput{KeyId: k.arn(), KeyCreationDate: tp(created), TrackingStartDate: tp(later(genesis, created))}
	err = s.view(ctx, func(tx store.Tx) error {
		b, err := tx.Get(store.KindKeyUsage, scopeOf(k.Account, k.Region), k.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var u keyUsage
		if err := json.Unmarshal(b, &u); err != nil {
			return err
		}
		out.KeyLastUsage = &KeyLastUsageData{Operation: u.Operation, Timestamp: tp(time.UnixMilli(u.Time).UTC()), CloudTrailEventId: u.EventID, KmsRequestId: u.RequestID}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lookupAttributeKeys are the attributes LookupEvents filters by.
var lookupAttributeKeys = map[string]bool{
	audit.AttrEventID: true, audit.AttrEventName: true, audit.AttrReadOnly: true, audit.AttrUsername: true,
	audit.AttrResourceType: true, audit.AttrResourceName: true, audit.AttrEventSource: true, audit.AttrAccessKeyID: true,
}

// LookupEvents is CloudTrail's LookupEvents: the events of the caller's
// account (made by its principals or on its keys), newest first, over the
// last 90 days unless StartTime says otherwise.
func (s *Service) LookupEvents(ctx context.Context, c *Call, in *LookupEventsInput) (*LookupEventsOutput, error) {
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "cloudtrail:LookupEvents"}); err != nil {
		return nil, err
	}
	a := s.auditor()
	if a == nil {
		return nil, errTrailOff()
	}
	q := audit.LookupQuery{Account: c.Principal.Account, MaxResults: 50}
	if len(in.LookupAttributes) > 1 {
		return nil, newErr("InvalidLookupAttributesException", http.StatusBadRequest, "You can only specify one lookup attribute.")
	}
	if len(in.LookupAttributes) == 1 {
		la := in.LookupAttributes[0]
		if !lookupAttributeKeys[la.AttributeKey] || la.AttributeValue == "" {
			return nil, newErr("InvalidLookupAttributesException", http.StatusBadRequest, "Invalid lookup attribute %s.", la.AttributeKey)
		}
		q.Key, q.Value = la.AttributeKey, la.AttributeValue
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, newErr("InvalidMaxResultsException", http.StatusBadRequest, "MaxResults must be between 1 and 50.")
		}
		q.MaxResults = int(*in.MaxResults)
	}
	now := s.clock.Now()
	q.Start, q.End = now.Add(-90*24*time.Hour), now
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if q.Start.After(q.End) {
		return nil, newErr("InvalidTimeRangeException", http.StatusBadRequest, "The start time must be before the end time.")
	}
	out := &LookupEventsOutput{Events: []TrailEvent{}}
	if in.EventCategory != nil { // "insight": Strongroom has no Insights events
		return out, nil
	}
	if in.NextToken != nil {
		q.NextToken = *in.NextToken
	}
	page, err := a.cfg.Trail.Lookup(ctx, q)
	if errors.Is(err, audit.ErrInvalidToken) {
		return nil, newErr("InvalidNextTokenException", http.StatusBadRequest, "Invalid NextToken.")
	}
	if err != nil {
		return nil, err
	}
	for _, f := range page.Events {
		ev := TrailEvent{
			EventId: f.EventID, EventName: f.EventName, ReadOnly: boolString(f.ReadOnly), AccessKeyId: f.AccessKeyID,
			EventTime: tp(f.EventTime), EventSource: f.EventSource, Username: f.Username,
			Resources: []TrailResource{}, CloudTrailEvent: string(f.Event),
		}
		for _, r := range f.Resources {
			ev.Resources = append(ev.Resources, TrailResource{ResourceType: r.Type, ResourceName: r.ARN})
		}
		out.Events = append(out.Events, ev)
	}
	out.NextToken = page.NextToken
	return out, nil
}

// requireOperator refuses a caller outside the operator account.
func (a *AuditRecorder) requireOperator(c *Call, what string) error {
	if c.Principal.Account != a.cfg.OperatorAccount {
		return errAccessDenied("Only principals of the operator account " + a.cfg.OperatorAccount + " may " + what + ".")
	}
	return nil
}

// ExportAuditTrail returns one page of the whole trail — records, digests,
// and on the last page the signed end — for `strongroom audit export`.
// Only the operator account's principals may export (strongroom:ExportAuditTrail).
func (s *Service) ExportAuditTrail(ctx context.Context, c *Call, in *ExportAuditTrailInput) (*ExportAuditTrailOutput, error) {
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "strongroom:ExportAuditTrail"}); err != nil {
		return nil, err
	}
	a := s.auditor()
	if a == nil {
		return nil, errTrailOff()
	}
	if err := a.requireOperator(c, "export the audit trail"); err != nil {
		return nil, err
	}
	q := audit.ExportQuery{}
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return nil, errValidation("StartTime must not be after EndTime.")
	}
	if in.MaxLines != nil {
		if *in.MaxLines < 1 || *in.MaxLines > 10000 {
			return nil, errValidation("MaxLines must be between 1 and 10000.")
		}
		q.MaxLines = int(*in.MaxLines)
	}
	if in.NextToken != nil {
		q.NextToken = *in.NextToken
	}
	page, err := a.cfg.Trail.Export(ctx, q)
	if errors.Is(err, audit.ErrInvalidToken) {
		return nil, newErr("InvalidNextTokenException", http.StatusBadRequest, "Invalid NextToken.")
	}
	if err != nil {
		return nil, err
	}
	out := &ExportAuditTrailOutput{Lines: make([]string, len(page.Lines)), NextToken: page.NextToken}
	for i, l := range page.Lines {
		out.Lines[i] = string(l)
	}
	return out, nil
}

// GetBillingReport returns an account's bill for a month: the caller's own
// account, or — for the operator account's principals — any account
// (strongroom:GetBillingReport).
func (s *Service) GetBillingReport(ctx context.Context, c *Call, in *GetBillingReportInput) (*GetBillingReportOutput, error) {
	if err := s.authorizeReq(ctx, c, &authzReq{Action: "strongroom:GetBillingReport"}); err != nil {
		return nil, err
	}
	a := s.auditor()
	if a == nil {
		return nil, errTrailOff()
	}
	account := c.Principal.Account
	if in.AccountId != nil && *in.AccountId != "" {
		account = *in.AccountId
	}
	if !arn.IsAccountID(account) {
		return nil, errValidation("AccountId must be 12 digits.")
	}
	if account != c.Principal.Account {
		if err := a.requireOperator(c, "see another account's bill"); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	month := now.UTC().Format("2006-01")
	if in.Month != nil && *in.Month != "" {
		month = *in.Month
		if _, err := time.Parse("2006-01", month); err != nil || len(month) != 7 {
			return nil, errValidation("Month must be YYYY-MM, such as 2026-11.")
		}
	}
	prices := a.cfg.Prices
	if len(in.PriceTable) > 0 && string(in.PriceTable) != "null" {
		p, err := metering.ParsePrices(in.PriceTable, prices)
		if err != nil {
			return nil, errValidation("%s", strings.TrimPrefix(err.Error(), "metering: "))
		}
		prices = p
	}
	if err := a.cfg.Trail.Sync(ctx); err != nil { // every request acknowledged so far
		return nil, err
	}
	bill, err := metering.Report(ctx, s.store, account, month, now, prices)
	if err != nil {
		return nil, err
	}
	return &GetBillingReportOutput{Bill: bill}, nil
}
