// Package shape owns the input models of the AWS services Strongroom speaks
// (KMS, IAM, STS, CloudTrail) and checks requests against them the way AWS
// does before an operation runs: ValidateJSON for the AWS JSON 1.1 protocol
// (KMS, CloudTrail), ValidateQuery for the query protocol (IAM, STS).
//
// The models are generated from botocore's service-2.json files by
// "go generate" (see gen/) and committed, so building needs no botocore.
// They carry only what validation needs: operations, input shapes, members
// and whether they are required, lengths, ranges, enums, patterns and the
// sensitive trait.
//
// # What a request gets
//
// A body that is not JSON of the input's shape is a SerializationException.
// AWS sends no message for malformed JSON, nor for a body that is null, a
// string or a number instead of an object, and neither does Error (Detail
// says what was wrong, for the log); a body that is a list is "Start of
// list found where not expected". Type mismatches carry AWS's messages:
// "Start of structure or map found where not expected.", "Start of list
// found where not expected", "STRING_VALUE can not be converted to an
// Integer", "NUMBER_VALUE can not be converted to a String", "Expected null"
// (a scalar for a structure), "Expected list or null", "Expected map or
// null". A JSON null member is the same as an absent one.
//
// Constraint failures are one ValidationException (ValidationError for
// query services) in AWS's words: "2 validation errors detected: Value null
// at 'keyId' failed to satisfy constraint: Member must not be null; Value
// '0' at 'limit' failed to satisfy constraint: Member must have value
// greater than or equal to 1". Paths are lowerCamelCase member names, list
// elements "tags.1.member.tagKey", map entries "<key>.member". They are
// reported in model order of the members (then list order, then constraint
// order: null, length, value, pattern, enum), at most ten. Lengths of
// strings are counted in Unicode code points, of blobs in decoded bytes.
//
// # Secrets
//
// No value of a shape botocore marks sensitive (KMS's PlaintextType, IAM's
// passwordType, …) is ever put in an Error, nor anything inside one: such
// failures read "Value at 'plaintext' failed to satisfy constraint: …",
// even for a missing member, as AWS prints them. Blobs are never printed
// either, nor are the characters of invalid base64.
//
// # Stricter than AWS, on purpose
//
// The caller decodes an accepted body with encoding/json, so nothing it
// accepts may decode differently from what was checked:
//
//   - Duplicate keys in any object are a SerializationException ("Duplicate
//     field 'KeyId'"), and so is a key that differs from a member name only
//     in case ({"keyid": …} next to, or instead of, "KeyId"), because
//     encoding/json would put it in the member's field unchecked.
//   - A null list element or map value is "Member must not be null".
//   - A number with a fraction or exponent for an integer or long is
//     "DECIMAL_VALUE can not be converted to an Integer"; AWS may truncate.
//     Integers are parsed exactly: one beyond the type's range breaks the
//     range constraint and is reported without its value, as AWS does, or,
//     with no such constraint, is "NUMBER_VALUE can not be converted to an
//     Integer".
//   - Blobs must be standard, padded base64 with zero padding bits and no
//     whitespace.
//   - The body must be valid UTF-8 (in strings) and nest at most 32 deep,
//     with at most 10,000 values; trailing data is malformed.
//
// An empty body is an empty object: it passes where nothing is required.
// Unknown members are ignored, as AWS does, but must be well-formed.
//
// # Patterns
//
// Patterns are java.util.regex expressions matched against the whole value.
// They are translated to Go's RE2 and compiled on first use; the few RE2
// cannot express (IAM's accountAliasType uses a lookahead) are not checked:
// Service.UncheckedPatterns lists them.
//
// # Where AWS may differ
//
// The messages above were checked against captures of real AWS answers
// where such exist (KMS, IAM, Athena). The rest is our best reading:
// enum values are listed in model order, which is not always AWS's; the
// order of errors is the model's order of members; a failure inside a map
// reads "Map keys must satisfy constraint: […]" as in other AWS services;
// the query protocol's type errors ("int must follow xsd1.1 definition")
// follow the one AWS gives for booleans; lengths count code points as
// Smithy says, where a Java service may count UTF-16 units. An empty body
// is an empty object here, though a captured Athena answer to one was a
// SerializationException.
//
// # Adjusting
//
// Services, and the Operations they return, are read-only and safe for
// concurrent use. The generated services are exact and never modified;
// Service.With derives an adjusted copy once at start-up. Options.SkipMax
// drops the maximum of a member whose limit the caller enforces itself:
//
//	kms, err := shape.KMS.With(shape.Options{SkipMax: []string{"Encrypt.Plaintext"}})
package shape
