// This file speaks the AWS query protocol that IAM and STS use on the same
// endpoint as KMS: a form-encoded POST (or a GET) carrying Action=…&
// Version=…, answered in XML. Requests are routed here by the service of
// their SigV4 credential scope; the per-service tables are in iam.go and
// sts.go, and every operation calls the identity core, which authorizes.

package awsapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strongroom/internal/identity"
	"strongroom/internal/shape"
	"strongroom/internal/sigv4"
)

// queryBodyLimit bounds a query request: a policy document may hold 131,072
// characters, three times as many once form-encoded.
const queryBodyLimit = 1 << 20

// queryService is one query-protocol service of the endpoint.
type queryService struct {
	name    string // the SigV4 service name: "iam", "sts"
	version string // the API version: "2010-05-08"
	xmlns   string
	model   *shape.Service
	// internalCode is the code of an internal failure.
	internalCode string
	ops          map[string]queryOp
}

// queryOp is one row of a query service's dispatch table.
type queryOp struct {
	// call runs the operation. It returns the value encoded as the
	// <ActionResult> element, or nil for an operation with no result.
	call func(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error)
	// unsupported lists parameters (or parameter prefixes, ending in ".")
	// that Strongroom does not implement; a request carrying one is
	// refused rather than half-served.
	unsupported []string
	// custom marks a Strongroom operation that the AWS model does not have:
	// it is validated by its call, not by package shape.
	custom bool
}

// queryServices are the query services by SigV4 service name.
var queryServices = map[string]*queryService{}

func registerQuery(s *queryService) { queryServices[s.name] = s }

// isQueryRequest reports whether r is in the query protocol's form: a
// form-encoded POST, or a GET carrying Action. Only requests without
// X-Amz-Target reach this test.
func isQueryRequest(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost:
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return mt == "application/x-www-form-urlencoded"
	case http.MethodGet:
		return strings.Contains(r.URL.RawQuery, "Action=")
	}
	return false
}

// scopeService returns the service of r's SigV4 credential scope, from the
// Authorization header or a presigned X-Amz-Credential, or "" if r carries
// none. It only routes: authenticate checks everything.
func scopeService(r *http.Request) string {
	cred := ""
	if h := r.Header.Get("Authorization"); h != "" {
		if _, after, ok := strings.Cut(h, "Credential="); ok {
			cred, _, _ = strings.Cut(after, ",")
		}
	} else if strings.Contains(r.URL.RawQuery, "X-Amz-Credential=") {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// queryServiceFor picks the query service of r: by its credential scope,
// or, for a request with no SigV4 at all, by its Action (so that it gets a
// query-protocol authentication error). It returns nil for a request signed
// for another service.
func queryServiceFor(r *http.Request, form url.Values) *queryService {
	if name := scopeService(r); name != "" {
		return queryServices[name]
	}
	if _, ok := shape.STS.Operation(form.Get("Action")); ok {
		return queryServices["sts"]
	}
	return queryServices["iam"]
}

// serveQuery serves an IAM or STS request.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, reqID string) {
	body, err := readBody(r, queryBodyLimit)
	if err != nil {
		svc := queryServiceFor(r, nil)
		if svc == nil {
			svc = queryServices["iam"]
		}
		if errors.Is(err, errTooLarge) {
			writeQueryError(w, svc, reqID, http.StatusRequestEntityTooLarge, "Sender", "RequestEntityTooLarge", "Request body is larger than the "+strconv.Itoa(queryBodyLimit)+"-byte limit.")
			return
		}
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", "MalformedInput", "Could not read the request body.")
		return
	}
	form, formErr := queryForm(r, body)
	svc := queryServiceFor(r, form)
	if svc == nil {
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "Missing X-Amz-Target header")
		return
	}
	ctx := r.Context()
	p, _, err := h.authenticate(ctx, r, body, svc.name)
	if err != nil {
		h.writeQueryErr(w, svc, reqID, "", err)
		return
	}
	if formErr != nil {
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", "MalformedInput", "The request is not a valid form-encoded query.")
		return
	}
	action := form.Get("Action")
	if action == "" {
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", "MissingAction", "Missing Action")
		return
	}
	if v := form.Get("Version"); v != "" && v != svc.version {
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", "InvalidAction", "Could not find operation "+sanitize(action)+" for version "+sanitize(v))
		return
	}
	op, ok := svc.ops[action]
	if !ok {
		msg := "Could not find operation " + sanitize(action) + " for version " + svc.version
		if _, inModel := svc.model.Operation(action); inModel {
			msg = "Strongroom does not implement the " + strings.ToUpper(svc.name) + " operation " + action + "."
		}
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", "InvalidAction", msg)
		return
	}
	if !op.custom {
		if err := shape.ValidateQuery(svc.model, action, form); err != nil {
			h.writeQueryErr(w, svc, reqID, action, err)
			return
		}
	}
	for _, u := range op.unsupported {
		for k := range form {
			if k == u || (strings.HasSuffix(u, ".") && strings.HasPrefix(k, u)) {
				writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", identity.CodeValidationError,
					"Strongroom does not support the parameter "+strings.TrimSuffix(u, ".")+" of "+action+".")
				return
			}
		}
	}
	c := identity.Caller{Principal: p, SourceIP: sourceIP(r), SecureTransport: r.TLS != nil}
	out, err := op.call(ctx, h, c, form)
	if err != nil {
		h.writeQueryErr(w, svc, reqID, action, err)
		return
	}
	writeQueryResult(w, svc, reqID, action, out)
}

// queryForm returns the request's parameters: the form-encoded body of a
// POST, or the query string of a GET without its SigV4 parameters.
func queryForm(r *http.Request, body []byte) (url.Values, error) {
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		for k := range q {
			if strings.HasPrefix(k, "X-Amz-") {
				delete(q, k)
			}
		}
		return q, err
	}
	return url.ParseQuery(string(body))
}

// queryTime formats a timestamp as the query protocol does.
func queryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// queryInt reads an optional integer parameter that shape has already
// checked.
func queryInt(q url.Values, name string) int {
	n, _ := strconv.Atoi(q.Get(name))
	return n
}

// list encodes a query-protocol list: <Name><member>…</member>…</Name>,
// empty as <Name></Name>.
type list[T any] struct {
	Member []T `xml:"member"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// writeQueryResult writes <ActionResponse xmlns><ActionResult>out
// </ActionResult><ResponseMetadata/></ActionResponse>.
func writeQueryResult(w http.ResponseWriter, svc *queryService, reqID, action string, out any) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: svc.xmlns}}}
	enc.EncodeToken(start)
	if out != nil {
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			panic("awsapi: encoding " + action + ": " + err.Error()) // a programming error in a result type
		}
	}
	enc.EncodeElement(responseMetadata{RequestID: reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	enc.EncodeToken(start.End())
	enc.Flush()
	writeXML(w, http.StatusOK, buf.Bytes())
}

type queryErrorBody struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeQueryError(w http.ResponseWriter, svc *queryService, reqID string, status int, typ, code, msg string) {
	b, _ := xml.Marshal(queryErrorBody{Xmlns: svc.xmlns, Type: typ, Code: code, Message: msg, RequestID: reqID})
	writeXML(w, status, b)
}

func writeXML(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// writeQueryErr sends a client error as is and hides everything else
// behind the service's generic internal failure, logging it with the
// request id.
func (h *Handler) writeQueryErr(w http.ResponseWriter, svc *queryService, reqID, action string, err error) {
	if e, ok := identity.AsError(err); ok {
		writeQueryError(w, svc, reqID, e.Status, "Sender", e.Code, e.Message)
		return
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		code, status := se.QueryProtocol()
		if se.Code == codeExpiredTokenJSON {
			code, status = "ExpiredToken", http.StatusForbidden
		}
		writeQueryError(w, svc, reqID, status, "Sender", code, se.Message)
		return
	}
	var she *shape.Error
	if errors.As(err, &she) {
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", she.Code, she.Message)
		return
	}
	if errors.Is(err, context.Canceled) {
		writeQueryError(w, svc, reqID, http.StatusBadRequest, "Sender", "RequestCanceled", "The request was canceled.")
		return
	}
	h.log.Error("internal error", "request_id", reqID, "service", svc.name, "operation", action, "err", err)
	writeQueryError(w, svc, reqID, http.StatusInternalServerError, "Receiver", svc.internalCode,
		"The request processing has failed because of an unknown error, exception or failure. Request id "+reqID+".")
}
