package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends e's JSON encoding to b: the bytes encoding/json gives
// with HTML escaping off (a test holds the two equal), written without
// reflection because every call of every client pays for it.
// requestParameters, responseElements and additionalEventData hold only
// what the kms core's whitelist produces (strings, integers, booleans, and
// lists and string-keyed maps of them); anything else is left to
// encoding/json.
func (e *Event) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, e.EventVersion)
	b = append(b, `,"userIdentity":`...)
	b = e.UserIdentity.appendJSON(b)
	b = appendField(b, "eventTime", e.EventTime)
	b = appendField(b, "eventSource", e.EventSource)
	b = appendField(b, "eventName", e.EventName)
	b = appendField(b, "awsRegion", e.AWSRegion)
	b = appendField(b, "sourceIPAddress", e.SourceIPAddress)
	b = appendField(b, "userAgent", e.UserAgent)
	b = appendOptional(b, "errorCode", e.ErrorCode)
	b = appendOptional(b, "errorMessage", e.ErrorMessage)
	var err error
	b = append(b, `,"requestParameters":`...)
	if e.RawRequestParameters != nil {
		b = append(b, e.RawRequestParameters...)
	} else if b, err = appendValue(b, e.RequestParameters, 0); err != nil {
		return nil, err
	}
	b = append(b, `,"responseElements":`...)
	if e.RawResponseElements != nil {
		b = append(b, e.RawResponseElements...)
	} else if b, err = appendValue(b, e.ResponseElements, 0); err != nil {
		return nil, err
	}
	if len(e.AdditionalEventData) > 0 {
		b = append(b, `,"additionalEventData":`...)
		if b, err = appendValue(b, e.AdditionalEventData, 0); err != nil {
			return nil, err
		}
	}
	b = appendOptional(b, "requestID", e.RequestID)
	b = appendField(b, "eventID", e.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, e.ReadOnly)
	if len(e.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i, r := range e.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"accountId":`...)
			b = appendString(b, r.AccountID)
			b = appendField(b, "type", r.Type)
			b = appendField(b, "ARN", r.ARN)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, "eventType", e.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, e.ManagementEvent)
	b = appendField(b, "recipientAccountId", e.RecipientAccountID)
	b = appendField(b, "eventCategory", e.EventCategory)
	return append(b, '}'), nil
}

func (u *UserIdentity) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendOptional(b, "type", u.Type)
	b = appendOptional(b, "principalId", u.PrincipalID)
	b = appendOptional(b, "arn", u.ARN)
	b = appendOptional(b, "accountId", u.AccountID)
	b = appendOptional(b, "accessKeyId", u.AccessKeyID)
	b = appendOptional(b, "userName", u.UserName)
	if s := u.SessionContext; s != nil {
		i := s.SessionIssuer
		b = append(b, `,"sessionContext":{"sessionIssuer":{"type":`...)
		b = appendString(b, i.Type)
		b = appendOptional(b, "principalId", i.PrincipalID)
		b = appendField(b, "arn", i.ARN)
		b = appendField(b, "accountId", i.AccountID)
		b = appendField(b, "userName", i.UserName)
		b = append(b, "}}"...)
	}
	b = appendOptional(b, "invokedBy", u.InvokedBy)
	if len(b) > n { // the first member's comma
		b = append(b[:n], b[n+1:]...)
	}
	return append(b, '}')
}

// appendField appends ,"name":"value".
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendOptional is appendField, for a member omitted when empty.
func appendOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

// AppendJSON appends v's JSON encoding as a record holds it (what
// encoding/json gives with HTML escaping off; maps with sorted keys).
func AppendJSON(b []byte, v any) ([]byte, error) { return appendValue(b, v, 0) }

// AppendJSONString appends s as a JSON string, escaped as a record's
// strings are.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > 32 {
		return nil, fmt.Errorf("audit: a record nests deeper than 32 levels")
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding a record: %w", err)
	}
	return append(b, j...), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
