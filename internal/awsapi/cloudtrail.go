package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/shape"
)

// The audit trail's two APIs on the same endpoint, both AWS JSON 1.1 and
// SigV4-signed:
//
//   - CloudTrail's LookupEvents (X-Amz-Target
//     com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents as
//     botocore and the AWS CLI send it, or CloudTrail_20131101.LookupEvents
//     as aws-sdk-go-v2 does; SigV4 service "cloudtrail"), so `aws cloudtrail
//     lookup-events --endpoint-url …` works;
//   - Strongroom's admin API (X-Amz-Target StrongroomAdmin.<Op>, SigV4
//     service "strongroom"): ExportAuditTrail and GetBillingReport, which
//     `strongroom audit export` and `strongroom billing report` call.
//
// Like the KMS operations they go through kms.Service.Invoke: authorized,
// and recorded in the trail themselves.

const (
	cloudTrailTargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	// cloudTrailShortPrefix is the same target as the Go SDK spells it.
	cloudTrailShortPrefix = "CloudTrail_20131101."
	adminTargetPrefix     = "StrongroomAdmin."
	// AdminService is the SigV4 service name of the admin API.
	AdminService = "strongroom"
)

// isTrailTarget reports whether target belongs to the CloudTrail or admin API.
func isTrailTarget(target string) bool {
	return strings.HasPrefix(target, cloudTrailTargetPrefix) || strings.HasPrefix(target, cloudTrailShortPrefix) || strings.HasPrefix(target, adminTargetPrefix)
}

// trailOp is one row of the trail APIs' dispatch table.
type trailOp struct {
	name    string // the operation, as recorded
	service string // SigV4 service of the credential scope
	call    func(ctx context.Context, svc *kms.Service, c *kms.Call, name string, body []byte) (any, error)
}

// trailOps is keyed by X-Amz-Target.
var trailOps = map[string]trailOp{
	cloudTrailTargetPrefix + "LookupEvents": {name: "LookupEvents", service: "cloudtrail", call: trailCall(shape.CloudTrail, (*kms.Service).LookupEvents)},
	adminTargetPrefix + "ExportAuditTrail":  {name: "ExportAuditTrail", service: AdminService, call: trailCall(nil, (*kms.Service).ExportAuditTrail)},
	adminTargetPrefix + "GetBillingReport":  {name: "GetBillingReport", service: AdminService, call: trailCall(nil, (*kms.Service).GetBillingReport)},
}

// trailCall adapts a kms.Service method to trailOps, as op does for KMS:
// validate against model (if any), decode, call, all inside Invoke.
func trailCall[I, O any](model *shape.Service, fn func(*kms.Service, context.Context, *kms.Call, *I) (*O, error)) func(context.Context, *kms.Service, *kms.Call, string, []byte) (any, error) {
	return func(ctx context.Context, svc *kms.Service, c *kms.Call, name string, body []byte) (any, error) {
		in := new(I)
		return svc.Invoke(ctx, c, name, in, func() (any, error) {
			if model != nil {
				if err := validateJSON(model, name, body); err != nil {
					return nil, err
				}
			}
			if err := decodeJSON(body, in); err != nil {
				return nil, err
			}
			return fn(svc, ctx, c, in)
		})
	}
}

func (h *Handler) serveTrail(w http.ResponseWriter, r *http.Request, reqID, target string) {
	if rest, ok := strings.CutPrefix(target, cloudTrailShortPrefix); ok {
		target = cloudTrailTargetPrefix + rest
	}
	source, service, name := kms.SourceStrongroom, AdminService, strings.TrimPrefix(target, adminTargetPrefix)
	if rest, ok := strings.CutPrefix(target, cloudTrailTargetPrefix); ok {
		source, service, name = kms.SourceCloudTrail, "cloudtrail", rest
	}
	o, ok := trailOps[target]
	if !ok {
		if source == kms.SourceCloudTrail {
			h.refuse(w, r, reqID, source, sanitize(name), service, &apiError{http.StatusBadRequest, "UnsupportedOperationException", "Strongroom's CloudTrail API answers LookupEvents only."})
			return
		}
		h.refuse(w, r, reqID, source, sanitize(name), service, &apiError{http.StatusBadRequest, "UnknownOperationException", "Unknown operation " + sanitize(target)})
		return
	}
	if r.Method != http.MethodPost {
		h.refuse(w, r, reqID, source, o.name, o.service, &apiError{http.StatusMethodNotAllowed, "UnknownOperationException", "operations must be sent with POST"})
		return
	}
	body, err := readBody(r, smallBodyLimit)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			err = &apiError{http.StatusRequestEntityTooLarge, "ValidationException", "Request body is larger than the " + strconv.Itoa(smallBodyLimit) + "-byte limit of " + o.name + "."}
		} else {
			err = &apiError{http.StatusBadRequest, "SerializationException", "Could not read the request body"}
		}
		h.refuseAs(w, r, reqID, source, o.name, identity.Principal{}, "", err)
		return
	}
	ctx := r.Context()
	p, region, err := h.authenticate(ctx, r, body, o.service)
	if err != nil {
		h.refuseAs(w, r, reqID, source, o.name, p, region, err)
		return
	}
	out, err := o.call(ctx, h.svc, callOf(r, reqID, p, region), o.name, body)
	if err != nil {
		h.writeError(w, reqID, o.name, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, reqID, o.name, err)
		return
	}
	w.Header().Set("Content-Type", jsonContent)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
