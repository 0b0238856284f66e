package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"strongroom/internal/identity"
	"strongroom/internal/kms"
	"strongroom/internal/shape"
	"strongroom/internal/sigv4"
)

// kmsOp is one row of the KMS dispatch table: what the operation is called
// on the wire, how large its body may be, and how to run it.
type kmsOp struct {
	// bulk operations carry data and get the large body limit.
	bulk bool
	call func(ctx context.Context, svc *kms.Service, c *kms.Call, name string, body []byte) (any, error)
}

// op adapts a kms.Service method to the table: decode the JSON body into
// the input shape, call, return the output.
// The call goes through kms.Service.Invoke, which records it whatever
// happens, including a body that does not decode.
func op[I, O any](fn func(*kms.Service, context.Context, *kms.Call, *I) (*O, error)) func(context.Context, *kms.Service, *kms.Call, string, []byte) (any, error) {
	return func(ctx context.Context, svc *kms.Service, c *kms.Call, name string, body []byte) (any, error) {
		in := new(I)
		return svc.Invoke(ctx, c, name, in, func() (any, error) {
			if err := validateJSON(kmsModel, name, body); err != nil {
				return nil, err
			}
			if err := decodeJSON(body, in); err != nil {
				return nil, err
			}
			if err := checkGrantTokens(body); err != nil {
				return nil, err
			}
			return fn(svc, ctx, c, in)
		})
	}
}

// kmsModel is the KMS model requests are validated against. Encrypt's
// plaintext limit is not the model's 4096 bytes but the core's setting
// (1 MiB by default), so the ciphertexts Decrypt and ReEncrypt take are not
// bounded by the model's 6144 bytes either; the body limit bounds them.
var kmsModel = func() *shape.Service {
	m, err := shape.KMS.With(shape.Options{SkipMax: []string{"Encrypt.Plaintext", "Decrypt.CiphertextBlob", "ReEncrypt.CiphertextBlob"}})
	if err != nil {
		panic(err)
	}
	return m
}()

// kmsOps is the dispatch table, keyed by the operation name of
// X-Amz-Target: TrentService.<name>.
var kmsOps = map[string]kmsOp{
	"CreateKey":                       {call: op((*kms.Service).CreateKey)},
	"DescribeKey":                     {call: op((*kms.Service).DescribeKey)},
	"ListKeys":                        {call: op((*kms.Service).ListKeys)},
	"EnableKey":                       {call: op((*kms.Service).EnableKey)},
	"DisableKey":                      {call: op((*kms.Service).DisableKey)},
	"ScheduleKeyDeletion":             {call: op((*kms.Service).ScheduleKeyDeletion)},
	"CancelKeyDeletion":               {call: op((*kms.Service).CancelKeyDeletion)},
	"UpdateKeyDescription":            {call: op((*kms.Service).UpdateKeyDescription)},
	"Encrypt":                         {bulk: true, call: op((*kms.Service).Encrypt)},
	"Decrypt":                         {bulk: true, call: op((*kms.Service).Decrypt)},
	"ReEncrypt":                       {bulk: true, call: op((*kms.Service).ReEncrypt)},
	"GenerateDataKey":                 {call: op((*kms.Service).GenerateDataKey)},
	"GenerateDataKeyWithoutPlaintext": {call: op((*kms.Service).GenerateDataKeyWithoutPlaintext)},
	"GenerateRandom":                  {call: op((*kms.Service).GenerateRandom)},
	"CreateAlias":                     {call: op((*kms.Service).CreateAlias)},
	"UpdateAlias":                     {call: op((*kms.Service).UpdateAlias)},
	"DeleteAlias":                     {call: op((*kms.Service).DeleteAlias)},
	"ListAliases":                     {call: op((*kms.Service).ListAliases)},
	"TagResource":                     {call: op((*kms.Service).TagResource)},
	"UntagResource":                   {call: op((*kms.Service).UntagResource)},
	"ListResourceTags":                {call: op((*kms.Service).ListResourceTags)},
	"GetKeyPolicy":                    {call: op((*kms.Service).GetKeyPolicy)},
	"ListKeyPolicies":                 {call: op((*kms.Service).ListKeyPolicies)},
	"PutKeyPolicy":                    {call: op((*kms.Service).PutKeyPolicy)},
	"CreateGrant":                     {call: op((*kms.Service).CreateGrant)},
	"ListGrants":                      {call: op((*kms.Service).ListGrants)},
	"ListRetirableGrants":             {call: op((*kms.Service).ListRetirableGrants)},
	"RetireGrant":                     {call: op((*kms.Service).RetireGrant)},
	"RevokeGrant":                     {call: op((*kms.Service).RevokeGrant)},
	"GetKeyLastUsage":                 {call: op((*kms.Service).GetKeyLastUsage)},

	// Asymmetric and HMAC keys (issue 3).
	"GetPublicKey":                        {call: op((*kms.Service).GetPublicKey)},
	"Sign":                                {call: op((*kms.Service).Sign)},
	"Verify":                              {call: op((*kms.Service).Verify)},
	"GenerateMac":                         {call: op((*kms.Service).GenerateMac)},
	"VerifyMac":                           {call: op((*kms.Service).VerifyMac)},
	"DeriveSharedSecret":                  {call: op((*kms.Service).DeriveSharedSecret)},
	"GenerateDataKeyPair":                 {call: op((*kms.Service).GenerateDataKeyPair)},
	"GenerateDataKeyPairWithoutPlaintext": {call: op((*kms.Service).GenerateDataKeyPairWithoutPlaintext)},

	// Key lifecycle: rotation and imported key material (issue 5).
	"EnableKeyRotation":         {call: op((*kms.Service).EnableKeyRotation)},
	"DisableKeyRotation":        {call: op((*kms.Service).DisableKeyRotation)},
	"GetKeyRotationStatus":      {call: op((*kms.Service).GetKeyRotationStatus)},
	"RotateKeyOnDemand":         {call: op((*kms.Service).RotateKeyOnDemand)},
	"ListKeyRotations":          {call: op((*kms.Service).ListKeyRotations)},
	"GetParametersForImport":    {call: op((*kms.Service).GetParametersForImport)},
	"ImportKeyMaterial":         {call: op((*kms.Service).ImportKeyMaterial)},
	"DeleteImportedKeyMaterial": {call: op((*kms.Service).DeleteImportedKeyMaterial)},

	// Multi-Region keys (issue 8).
	"ReplicateKey":        {call: op((*kms.Service).ReplicateKey)},
	"UpdatePrimaryRegion": {call: op((*kms.Service).UpdatePrimaryRegion)},
}

// validateJSON checks body against op's input shape in model and turns a
// validation failure into the client error AWS sends.
func validateJSON(model *shape.Service, op string, body []byte) error {
	err := shape.ValidateJSON(model, op, body)
	var se *shape.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	msg := se.Message
	if msg == "" {
		msg = "The request body is not a valid " + op + " request."
	}
	return &kms.Error{Code: se.Code, Status: http.StatusBadRequest, Message: msg}
}

// checkGrantTokens validates the GrantTokens member that many operations
// take, without a second full decode when it is absent.
func checkGrantTokens(body []byte) error {
	if !bytes.Contains(body, []byte(`"GrantTokens"`)) {
		return nil
	}
	var gt struct{ GrantTokens []string }
	if err := decodeJSON(body, &gt); err != nil {
		return nil // the typed decode already accepted the body; not a token problem
	}
	return kms.CheckGrantTokens(gt.GrantTokens)
}

func (h *Handler) serveKMS(w http.ResponseWriter, r *http.Request, reqID, name string) {
	o, ok := kmsOps[name]
	if !ok {
		h.refuse(w, r, reqID, kms.SourceKMS, sanitize(name), "kms", &apiError{http.StatusBadRequest, "UnknownOperationException", "Unknown operation " + sanitize(name)})
		return
	}
	if r.Method != http.MethodPost {
		h.refuse(w, r, reqID, kms.SourceKMS, name, "kms", &apiError{http.StatusMethodNotAllowed, "UnknownOperationException", "KMS operations must be sent with POST"})
		return
	}
	limit := int64(smallBodyLimit)
	if o.bulk {
		limit = h.cfg.MaxBodyBytes
	}
	body, err := readBody(r, limit)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			err = &apiError{http.StatusRequestEntityTooLarge, "ValidationException", "Request body is larger than the " + strconv.FormatInt(limit, 10) + "-byte limit of " + name + "."}
		} else {
			err = &apiError{http.StatusBadRequest, "SerializationException", "Could not read the request body"}
		}
		h.refuseAs(w, r, reqID, kms.SourceKMS, name, identity.Principal{}, "", err)
		return
	}
	ctx := r.Context()
	p, region, err := h.authenticate(ctx, r, body, "kms")
	if err != nil {
		h.refuseAs(w, r, reqID, kms.SourceKMS, name, p, region, err)
		return
	}
	out, err := o.call(ctx, h.svc, callOf(r, reqID, p, region), name, body)
	if err != nil {
		h.writeError(w, reqID, name, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, reqID, name, err)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = jsonContentValue
	hdr["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// writeError sends a client error as-is and hides everything else behind a
// generic KMSInternalException, logging it with the request id.
func (h *Handler) writeError(w http.ResponseWriter, reqID, op string, err error) {
	status, code, msg := h.jsonFailure(reqID, op, err)
	writeJSONError(w, status, code, msg)
}

// jsonFailure is the answer of err in the JSON protocol: a client error
// as-is, anything else a generic KMSInternalException, logged with the
// request id.
func (h *Handler) jsonFailure(reqID, op string, err error) (status int, code, msg string) {
	if e, ok := kms.AsError(err); ok {
		return e.Status, e.Code, e.Message
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status, ae.Code, ae.Message
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return se.Status, se.Code, se.Message
	}
	if errors.Is(err, context.Canceled) {
		return http.StatusBadRequest, "RequestCanceled", "The request was canceled."
	}
	h.log.Error("internal error", "request_id", reqID, "operation", op, "err", err)
	return http.StatusInternalServerError, "KMSInternalException", "An internal error occurred. Request id " + reqID + "."
}

type jsonError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(jsonError{Type: code, Message: msg})
	w.Header().Set("Content-Type", jsonContent)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
