package shape

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	se = "SerializationException"
	ve = "ValidationException"
)

// null is the message of one missing member.
func null(path string) string {
	return "1 validation error detected: Value null at '" + path + "' failed to satisfy constraint: Member must not be null"
}

func zeros64(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

// kmsEmpty is what AWS answers each KMS operation for an empty object: the
// missing required members in model order, or nothing.
var kmsEmpty = map[string]string{
	"CancelKeyDeletion":     null("keyId"),
	"ConnectCustomKeyStore": null("customKeyStoreId"),
	"CreateAlias": "2 validation errors detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null",
	"CreateCustomKeyStore": null("customKeyStoreName"),
	"CreateGrant": "3 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'granteePrincipal' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'operations' failed to satisfy constraint: Member must not be null",
	"CreateKey":                 "",
	"Decrypt":                   "",
	"DeleteAlias":               null("aliasName"),
	"DeleteCustomKeyStore":      null("customKeyStoreId"),
	"DeleteImportedKeyMaterial": null("keyId"),
	"DeriveSharedSecret": "3 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'publicKey' failed to satisfy constraint: Member must not be null",
	"DescribeCustomKeyStores":  "",
	"DescribeKey":              null("keyId"),
	"DisableKey":               null("keyId"),
	"DisableKeyRotation":       null("keyId"),
	"DisconnectCustomKeyStore": null("customKeyStoreId"),
	"EnableKey":                null("keyId"),
	"EnableKeyRotation":        null("keyId"),
	"Encrypt": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value at 'plaintext' failed to satisfy constraint: Member must not be null",
	"GenerateDataKey": null("keyId"),
	"GenerateDataKeyPair": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'keyPairSpec' failed to satisfy constraint: Member must not be null",
	"GenerateDataKeyPairWithoutPlaintext": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'keyPairSpec' failed to satisfy constraint: Member must not be null",
	"GenerateDataKeyWithoutPlaintext": null("keyId"),
	"GenerateMac": "3 validation errors detected: Value at 'message' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'macAlgorithm' failed to satisfy constraint: Member must not be null",
	"GenerateRandom":       "",
	"GetKeyLastUsage":      null("keyId"),
	"GetKeyPolicy":         null("keyId"),
	"GetKeyRotationStatus": null("keyId"),
	"GetParametersForImport": "3 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'wrappingAlgorithm' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'wrappingKeySpec' failed to satisfy constraint: Member must not be null",
	"GetPublicKey": null("keyId"),
	"ImportKeyMaterial": "3 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'importToken' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'encryptedKeyMaterial' failed to satisfy constraint: Member must not be null",
	"ListAliases":         "",
	"ListGrants":          null("keyId"),
	"ListKeyPolicies":     null("keyId"),
	"ListKeyRotations":    null("keyId"),
	"ListKeys":            "",
	"ListResourceTags":    null("keyId"),
	"ListRetirableGrants": null("retiringPrincipal"),
	"PutKeyPolicy": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'policy' failed to satisfy constraint: Member must not be null",
	"ReEncrypt": null("destinationKeyId"),
	"ReplicateKey": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'replicaRegion' failed to satisfy constraint: Member must not be null",
	"RetireGrant": "",
	"RevokeGrant": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'grantId' failed to satisfy constraint: Member must not be null",
	"RotateKeyOnDemand":   null("keyId"),
	"ScheduleKeyDeletion": null("keyId"),
	"Sign": "3 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value at 'message' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null",
	"TagResource": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'tags' failed to satisfy constraint: Member must not be null",
	"UntagResource": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
	"UpdateAlias": "2 validation errors detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'targetKeyId' failed to satisfy constraint: Member must not be null",
	"UpdateCustomKeyStore": null("customKeyStoreId"),
	"UpdateKeyDescription": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'description' failed to satisfy constraint: Member must not be null",
	"UpdatePrimaryRegion": "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'primaryRegion' failed to satisfy constraint: Member must not be null",
	"Verify": "4 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value at 'message' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'signature' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null",
	"VerifyMac": "4 validation errors detected: Value at 'message' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'macAlgorithm' failed to satisfy constraint: Member must not be null; " +
		"Value null at 'mac' failed to satisfy constraint: Member must not be null",
}

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// kmsMinimal is a small valid request per KMS operation.
var kmsMinimal = map[string]string{
	"CancelKeyDeletion":                   `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"ConnectCustomKeyStore":               `{"CustomKeyStoreId":"cks-1234567890abcdef0"}`,
	"CreateAlias":                         `{"AliasName":"alias/ExampleAlias","TargetKeyId":"` + keyARN + `"}`,
	"CreateCustomKeyStore":                `{"CustomKeyStoreName":"ExampleKeyStore","CloudHsmClusterId":"cluster-234abcdefABCDEF","KeyStorePassword":"kmsPswd"}`,
	"CreateGrant":                         `{"KeyId":"` + keyARN + `","GranteePrincipal":"arn:aws:iam::111122223333:role/ExampleRole","Operations":["Encrypt","Decrypt"]}`,
	"CreateKey":                           `{}`,
	"Decrypt":                             `{"CiphertextBlob":"` + zeros64(100) + `"}`,
	"DeleteAlias":                         `{"AliasName":"alias/ExampleAlias"}`,
	"DeleteCustomKeyStore":                `{"CustomKeyStoreId":"cks-1234567890abcdef0"}`,
	"DeleteImportedKeyMaterial":           `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"DeriveSharedSecret":                  `{"KeyId":"` + keyARN + `","KeyAgreementAlgorithm":"ECDH","PublicKey":"` + zeros64(91) + `"}`,
	"DescribeCustomKeyStores":             `{}`,
	"DescribeKey":                         `{"KeyId":"alias/ExampleAlias"}`,
	"DisableKey":                          `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"DisableKeyRotation":                  `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"DisconnectCustomKeyStore":            `{"CustomKeyStoreId":"cks-1234567890abcdef0"}`,
	"EnableKey":                           `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"EnableKeyRotation":                   `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","RotationPeriodInDays":365}`,
	"Encrypt":                             `{"KeyId":"alias/ExampleAlias","Plaintext":"aGVsbG8="}`,
	"GenerateDataKey":                     `{"KeyId":"alias/ExampleAlias","KeySpec":"AES_256"}`,
	"GenerateDataKeyPair":                 `{"KeyId":"alias/ExampleAlias","KeyPairSpec":"ECC_NIST_P256"}`,
	"GenerateDataKeyPairWithoutPlaintext": `{"KeyId":"alias/ExampleAlias","KeyPairSpec":"RSA_2048"}`,
	"GenerateDataKeyWithoutPlaintext":     `{"KeyId":"alias/ExampleAlias","NumberOfBytes":32}`,
	"GenerateMac":                         `{"Message":"aGVsbG8=","KeyId":"alias/ExampleAlias","MacAlgorithm":"HMAC_SHA_256"}`,
	"GenerateRandom":                      `{"NumberOfBytes":1024}`,
	"GetKeyLastUsage":                     `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"GetKeyPolicy":                        `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","PolicyName":"default"}`,
	"GetKeyRotationStatus":                `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"GetParametersForImport":              `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","WrappingAlgorithm":"RSAES_OAEP_SHA_256","WrappingKeySpec":"RSA_2048"}`,
	"GetPublicKey":                        `{"KeyId":"alias/ExampleAlias"}`,
	"ImportKeyMaterial":                   `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","ImportToken":"` + zeros64(1000) + `","EncryptedKeyMaterial":"` + zeros64(256) + `","ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE"}`,
	"ListAliases":                         ``,
	"ListGrants":                          `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Limit":1000}`,
	"ListKeyPolicies":                     `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"ListKeyRotations":                    `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"ListKeys":                            `{"Limit":1}`,
	"ListResourceTags":                    `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"ListRetirableGrants":                 `{"RetiringPrincipal":"arn:aws:iam::111122223333:role/ExampleRole"}`,
	"PutKeyPolicy":                        `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Policy":"{\n \"Version\": \"2012-10-17\",\n\t\"Statement\": []\n}"}`,
	"ReEncrypt":                           `{"CiphertextBlob":"` + zeros64(150) + `","DestinationKeyId":"alias/Other"}`,
	"ReplicateKey":                        `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab","ReplicaRegion":"us-west-2"}`,
	"RetireGrant":                         `{"GrantToken":"AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFlNTIzODZhMzgyZjBlNGY3NiKIAgEBAgB4Pa6VDCWW__MSrqnre1HIN0Grt00ViSSuUjhqOC8OT3YAAADfMIHcBgkqhkiG9w0BBwaggc4wgcsCAQAwgcUGCSqGSIb3DQEHATAeBglghkgBZQMEAS4wEQQMmqLyBTAegIn9XlK5AgEQgIGXZQjkBcl1dykDdqZBUQ6L1OfUivQy7JVYO2-ZJP7m6f1g8GzV47HX5phdtONAP7K_HQIflcgpkoCqd_fUnE114mSmiagWkbQ5sqAVV3ov-VeqgrvMe5ZFEWLMSluvBAqdjHEdMIkHMlhlj4ENZbzBfo9Wxk8b8SnwP4kc4gGivedzFXo-dwN8fxjjq_ZZ9JFOj2ijIbj5FyogDCN0drOfi8RORSEuCEmPvjFRMFAwcmwFkN2NPp89amA"}`,
	"RevokeGrant":                         `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","GrantId":"0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60"}`,
	"RotateKeyOnDemand":                   `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"ScheduleKeyDeletion":                 `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","PendingWindowInDays":7}`,
	"Sign":                                `{"KeyId":"alias/ECC_signing_key","Message":"` + zeros64(32) + `","MessageType":"DIGEST","SigningAlgorithm":"ECDSA_SHA_256"}`,
	"TagResource":                         `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Tags":[{"TagKey":"Purpose","TagValue":""}]}`,
	"UntagResource":                       `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","TagKeys":["Purpose","CostCenter"]}`,
	"UpdateAlias":                         `{"AliasName":"alias/ExampleAlias","TargetKeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}`,
	"UpdateCustomKeyStore":                `{"CustomKeyStoreId":"cks-1234567890abcdef0","NewCustomKeyStoreName":"DevelopmentKeys"}`,
	"UpdateKeyDescription":                `{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Description":""}`,
	"UpdatePrimaryRegion":                 `{"KeyId":"mrk-1234abcd12ab34cd56ef1234567890ab","PrimaryRegion":"us-gov-west-1"}`,
	"Verify":                              `{"KeyId":"alias/ECC_signing_key","Message":"` + zeros64(32) + `","Signature":"` + zeros64(72) + `","SigningAlgorithm":"ECDSA_SHA_256"}`,
	"VerifyMac":                           `{"Message":"aGVsbG8=","KeyId":"alias/ExampleAlias","MacAlgorithm":"HMAC_SHA_512","Mac":"` + zeros64(64) + `"}`,
}

const keySpecs = "[RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, " +
	"SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, SM2, ML_DSA_44, ML_DSA_65, ML_DSA_87, ECC_NIST_EDWARDS25519]"

// nest wraps v in n JSON arrays.
func nest(n int, v string) string { return strings.Repeat("[", n) + v + strings.Repeat("]", n) }

// values makes a JSON array of n numbers.
func values(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]" }

// kmsCases are requests and AWS's answers. Messages come from AWS's
// documentation, published captures of real KMS answers or, where marked
// in the package documentation, our own reading of how AWS words them.
var kmsCases = []struct {
	name, op, body string
	code, msg      string
}{
	// Required members.
	{"missing KeyId", "DescribeKey", `{"GrantTokens":[]}`, ve, null("keyId")},
	{"null KeyId is missing", "DescribeKey", `{"KeyId":null}`, ve, null("keyId")},
	{"empty body is {}", "DescribeKey", ``, ve, null("keyId")},
	{"whitespace body is {}", "ListKeys", " \r\n\t", "", ""},
	{"empty KeyId", "DescribeKey", `{"KeyId":""}`, ve,
		"1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	{"missing plaintext prints no null", "Encrypt", `{"KeyId":"k"}`, ve,
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must not be null"},
	{"missing blob prints null", "Verify", `{"KeyId":"k","Message":"aGk=","SigningAlgorithm":"ECDSA_SHA_256"}`, ve, null("signature")},

	// Numbers.
	{"Limit 0", "ListKeys", `{"Limit":0}`, ve,
		"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{"Limit -0", "ListAliases", `{"Limit":-0}`, ve,
		"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{"Limit 1001", "ListGrants", `{"KeyId":"k","Limit":1001}`, ve,
		"1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"},
	{"Limit 1000", "ListKeys", `{"Limit":1000}`, "", ""},
	{"NumberOfBytes 1025", "GenerateRandom", `{"NumberOfBytes":1025}`, ve,
		"1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
	{"NumberOfBytes 0", "GenerateDataKey", `{"KeyId":"k","NumberOfBytes":0}`, ve,
		"1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{"PendingWindowInDays 366", "ScheduleKeyDeletion", `{"KeyId":"k","PendingWindowInDays":366}`, ve,
		"1 validation error detected: Value '366' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 365"},
	{"int32 overflow", "ListKeys", `{"Limit":2147483648}`, ve,
		"1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"},
	{"2^64", "ListKeys", `{"Limit":18446744073709551616}`, ve,
		"1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"},
	{"2^64 does not wrap to 0", "GenerateRandom", `{"NumberOfBytes":18446744073709551617}`, ve,
		"1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
	{"-2^64", "ListKeys", `{"Limit":-18446744073709551616}`, ve,
		"1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
	{"float for integer", "ListKeys", `{"Limit":1.5}`, se, "DECIMAL_VALUE can not be converted to an Integer"},
	{"integral float for integer", "ListKeys", `{"Limit":10.0}`, se, "DECIMAL_VALUE can not be converted to an Integer"},
	{"exponent for integer", "ListKeys", `{"Limit":1e2}`, se, "DECIMAL_VALUE can not be converted to an Integer"},
	{"string for integer", "ListKeys", `{"Limit":"10"}`, se, "STRING_VALUE can not be converted to an Integer"},
	{"true for integer", "ListKeys", `{"Limit":true}`, se, "TRUE_VALUE can not be converted to an Integer"},
	{"false for integer", "ListKeys", `{"Limit":false}`, se, "FALSE_VALUE can not be converted to an Integer"},
	{"list for integer", "ListKeys", `{"Limit":[1]}`, se, "Start of list found where not expected"},
	{"object for integer", "ListKeys", `{"Limit":{"a":1}}`, se, "Start of structure or map found where not expected."},
	{"null integer is absent", "ListKeys", `{"Limit":null,"Marker":null}`, "", ""},
	{"leading zero", "ListKeys", `{"Limit":01}`, se, ""},

	// Strings and enums.
	{"number for string", "ListKeys", `{"Marker":1}`, se, "NUMBER_VALUE can not be converted to a String"},
	{"true for string", "DescribeKey", `{"KeyId":true}`, se, "TRUE_VALUE can not be converted to a String"},
	{"object for string", "DescribeKey", `{"KeyId":{}}`, se, "Start of structure or map found where not expected."},
	{"bad KeySpec", "CreateKey", `{"KeySpec":"AES_256"}`, ve,
		"1 validation error detected: Value 'AES_256' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: " + keySpecs},
	{"bad data KeySpec", "GenerateDataKey", `{"KeyId":"k","KeySpec":"AES_512"}`, ve,
		"1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"},
	{"enum is case-sensitive", "GenerateDataKey", `{"KeyId":"k","KeySpec":"aes_256"}`, ve,
		"1 validation error detected: Value 'aes_256' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"},
	{"Description of 8193", "CreateKey", `{"Description":"` + strings.Repeat("d", 8193) + `"}`, ve,
		"1 validation error detected: Value '" + strings.Repeat("d", 8193) + "' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"},
	{"Description of 8192", "UpdateKeyDescription", `{"KeyId":"k","Description":"` + strings.Repeat("d", 8192) + `"}`, "", ""},
	{"length in code points", "UpdateKeyDescription", `{"KeyId":"k","Description":"` + strings.Repeat("😀", 8192) + `"}`, "", ""},
	{"escapes count once", "UpdateKeyDescription", `{"KeyId":"k","Description":"` + strings.Repeat(`\ud83d\ude00`, 4096) + strings.Repeat(`\n`, 4096) + `"}`, "", ""},
	{"AliasName pattern", "CreateAlias", `{"AliasName":"alias/bad name","TargetKeyId":"k"}`, ve,
		"1 validation error detected: Value 'alias/bad name' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
	{"AliasName escaped slash", "DeleteAlias", `{"AliasName":"alias\/ok"}`, "", ""},
	{"AliasName too long and bad", "DeleteAlias", `{"AliasName":"` + strings.Repeat("é", 257) + `"}`, ve,
		"2 validation errors detected: Value '" + strings.Repeat("é", 257) + "' at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256; " +
			"Value '" + strings.Repeat("é", 257) + "' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
	{"empty AliasName", "DeleteAlias", `{"AliasName":""}`, ve,
		"2 validation errors detected: Value '' at 'aliasName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value '' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"},
	{"policy outside Latin-1", "PutKeyPolicy", `{"KeyId":"k","Policy":"{\"Sid\":\"\u0100\"}"}`, ve,
		"1 validation error detected: Value '{\"Sid\":\"Ā\"}' at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"},
	{"region pattern", "ReplicateKey", `{"KeyId":"k","ReplicaRegion":"US-WEST-2"}`, ve,
		"1 validation error detected: Value 'US-WEST-2' at 'replicaRegion' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$"},

	// Booleans and timestamps.
	{"string for boolean", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","DryRun":"true"}`, se, "STRING_VALUE can not be converted to a Boolean"},
	{"number for boolean", "CreateKey", `{"MultiRegion":1}`, se, "NUMBER_VALUE can not be converted to a Boolean"},
	{"string for timestamp", "ImportKeyMaterial", `{"KeyId":"k","ImportToken":"aGk=","EncryptedKeyMaterial":"aGk=","ValidTo":"2030-01-01T00:00:00Z"}`, se,
		"STRING_VALUE can not be converted to a Timestamp"},
	{"fractional timestamp", "ImportKeyMaterial", `{"KeyId":"k","ImportToken":"aGk=","EncryptedKeyMaterial":"aGk=","ValidTo":1.8934560005e9}`, "", ""},

	// Blobs.
	{"empty plaintext", "Encrypt", `{"KeyId":"k","Plaintext":""}`, ve,
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	{"plaintext of 4097", "Encrypt", `{"KeyId":"k","Plaintext":"` + zeros64(4097) + `"}`, ve,
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"},
	{"plaintext of 4096", "Encrypt", `{"KeyId":"k","Plaintext":"` + zeros64(4096) + `"}`, "", ""},
	{"empty ciphertext", "Decrypt", `{"CiphertextBlob":""}`, ve,
		"1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	{"ciphertext of 6145", "Decrypt", `{"CiphertextBlob":"` + zeros64(6145) + `"}`, ve,
		"1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144"},
	{"base64 length", "Encrypt", `{"KeyId":"k","Plaintext":"aGVsbG8"}`, se, "Base64 encoded length is expected a multiple of 4 bytes but found: 7"},
	{"base64 character", "Encrypt", `{"KeyId":"k","Plaintext":"aGV-bG8="}`, se, "Invalid Base64 character"},
	{"base64 padding inside", "Decrypt", `{"CiphertextBlob":"aG=sbG8="}`, se, "Invalid Base64 character"},
	{"base64 padding bits", "Decrypt", `{"CiphertextBlob":"aGVsbG9="}`, se, "Invalid last non-pad Base64 character dectected"},
	{"base64 newline", "Decrypt", "{\"CiphertextBlob\":\"aGVs\nbG8=\"}", se, ""},
	{"base64 escaped newline", "Decrypt", `{"CiphertextBlob":"aGVsbG8=\n"}`, se, "Base64 encoded length is expected a multiple of 4 bytes but found: 9"},
	{"base64 escaped slash", "Decrypt", `{"CiphertextBlob":"\/\/\/\/"}`, "", ""},
	{"number for blob", "Decrypt", `{"CiphertextBlob":12}`, se, "NUMBER_VALUE can not be converted to a Blob"},

	// Structures, lists and maps.
	{"string for structure", "CreateGrant", `{"KeyId":"k","GranteePrincipal":"p","Operations":["Decrypt"],"Constraints":"x"}`, se, "Expected null"},
	{"list for structure", "CreateGrant", `{"KeyId":"k","GranteePrincipal":"p","Operations":["Decrypt"],"Constraints":[]}`, se, "Start of list found where not expected"},
	{"string for list", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","GrantTokens":"t"}`, se, "Expected list or null"},
	{"object for list", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","GrantTokens":{}}`, se, "Start of structure or map found where not expected."},
	{"string for map", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":"x"}`, se, "Expected map or null"},
	{"list for map", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":[]}`, se, "Start of list found where not expected"},
	{"number in map", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":{"a":1}}`, se, "NUMBER_VALUE can not be converted to a String"},
	{"null in map", "Decrypt", `{"CiphertextBlob":"aGk=","EncryptionContext":{"a":"b","c":null}}`, ve, null("encryptionContext.c.member")},
	{"number in list", "UntagResource", `{"KeyId":"k","TagKeys":["a",2]}`, se, "NUMBER_VALUE can not be converted to a String"},
	{"null in list", "UntagResource", `{"KeyId":"k","TagKeys":["a",null]}`, ve, null("tagKeys.2.member")},
	{"number for structure in list", "TagResource", `{"KeyId":"k","Tags":[1]}`, se, "Expected null"},
	{"nested tags", "TagResource", `{"KeyId":"k","Tags":[{"TagKey":"ok","TagValue":"v"},{"TagKey":"","TagValue":"v"},{"TagKey":"k"}]}`, ve,
		"2 validation errors detected: Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value null at 'tags.3.member.tagValue' failed to satisfy constraint: Member must not be null"},
	{"tag value too long", "CreateKey", `{"Tags":[{"TagKey":"k","TagValue":"` + strings.Repeat("v", 257) + `"}]}`, ve,
		"1 validation error detected: Value '" + strings.Repeat("v", 257) + "' at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"},
	{"list element", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","GrantTokens":["t",""]}`, ve,
		"1 validation error detected: Value '' at 'grantTokens.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	{"list too long", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","GrantTokens":["a","b","c","d","e","f","g","h","i","j","k"]}`, ve,
		"1 validation error detected: Value '[a, b, c, d, e, f, g, h, i, j, k]' at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"},
	{"enum in list", "CreateGrant", `{"KeyId":"k","GranteePrincipal":"p","Operations":["Decrypt","Bogus"]}`, ve,
		"1 validation error detected: Value 'Bogus' at 'operations.2.member' failed to satisfy constraint: Member must satisfy enum value set: " +
			"[Decrypt, Encrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, ReEncryptFrom, ReEncryptTo, Sign, Verify, GetPublicKey, CreateGrant, " +
			"RetireGrant, DescribeKey, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext, GenerateMac, VerifyMac, DeriveSharedSecret]"},
	{"map in structure", "CreateGrant", `{"KeyId":"k","GranteePrincipal":"p","Operations":["Decrypt"],"Constraints":{"EncryptionContextSubset":{"a":true}}}`, se,
		"TRUE_VALUE can not be converted to a String"},
	{"sensitive members of a structure", "CreateCustomKeyStore",
		`{"CustomKeyStoreName":"x","XksProxyAuthenticationCredential":{"AccessKeyId":"lowercase-secret-id!","RawSecretAccessKey":"s!"}}`, ve,
		"3 validation errors detected: Value at 'xksProxyAuthenticationCredential.accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Z2-7]+$; " +
			"Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must have length greater than or equal to 43; " +
			"Value at 'xksProxyAuthenticationCredential.rawSecretAccessKey' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\/+=]+$"},
	{"sensitive string", "CreateCustomKeyStore", `{"CustomKeyStoreName":"x","KeyStorePassword":"pw"}`, ve,
		"1 validation error detected: Value at 'keyStorePassword' failed to satisfy constraint: Member must have length greater than or equal to 7"},

	// Order and count.
	{"model order, not body order", "ListKeys", `{"Marker":"","Limit":0}`, ve,
		"2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
			"Value '' at 'marker' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	{"missing members and bad ones", "Sign", `{"SigningAlgorithm":"MD5","Message":"aGk="}`, ve,
		"2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
			"Value 'MD5' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: " +
			"[RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512, RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, " +
			"RSASSA_PKCS1_V1_5_SHA_512, ECDSA_SHA_256, ECDSA_SHA_384, ECDSA_SHA_512, SM2DSA, ML_DSA_SHAKE_256, ED25519_SHA_512, ED25519_PH_SHA_512]"},
	{"at most ten", "TagResource", `{"Tags":[` + strings.TrimSuffix(strings.Repeat(`{"TagKey":""},`, 6), ",") + `]}`, ve,
		"10 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; " +
			"Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must not be null; " +
			"Value '' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value null at 'tags.2.member.tagValue' failed to satisfy constraint: Member must not be null; " +
			"Value '' at 'tags.3.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value null at 'tags.3.member.tagValue' failed to satisfy constraint: Member must not be null; " +
			"Value '' at 'tags.4.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
			"Value null at 'tags.4.member.tagValue' failed to satisfy constraint: Member must not be null; " +
			"Value '' at 'tags.5.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	{"type error wins over constraints", "ListKeys", `{"Limit":0,"Marker":7}`, se, "NUMBER_VALUE can not be converted to a String"},
	{"syntax error wins over constraints", "ListKeys", `{"Limit":0}x`, se, ""},

	// Unknown members.
	{"unknown members ignored", "DescribeKey", `{"KeyId":"k","Foo":{"bar":[1,-2.5e-3,{"x":null}],"baz":true},"Qux":"\u00e9"}`, "", ""},
	{"unknown member still well-formed", "DescribeKey", `{"KeyId":"k","Foo":[1,]}`, se, ""},

	// Malformed bodies.
	{"null body", "ListKeys", `null`, se, ""},
	{"string body", "ListKeys", `"x"`, se, ""},
	{"number body", "ListKeys", `1`, se, ""},
	{"list body", "ListKeys", `[]`, se, "Start of list found where not expected"},
	{"byte order mark", "ListKeys", "\ufeff{}", se, ""},
	{"trailing garbage", "DescribeKey", `{"KeyId":"k"} x`, se, ""},
	{"two objects", "ListKeys", `{}{}`, se, ""},
	{"trailing comma", "DescribeKey", `{"KeyId":"k",}`, se, ""},
	{"unterminated", "DescribeKey", `{"KeyId":"k"`, se, ""},
	{"unterminated string", "DescribeKey", `{"KeyId":"k}`, se, ""},
	{"single quotes", "DescribeKey", `{'KeyId':'k'}`, se, ""},
	{"control character", "DescribeKey", "{\"KeyId\":\"a\tb\"}", se, ""},
	{"bad escape", "DescribeKey", `{"KeyId":"\x41"}`, se, ""},
	{"invalid UTF-8", "DescribeKey", "{\"KeyId\":\"\xff\"}", se, ""},
	{"invalid UTF-8 in unknown member", "DescribeKey", "{\"KeyId\":\"k\",\"x\":\"\xc3\x28\"}", se, ""},
	{"invalid UTF-8 in key", "DescribeKey", "{\"KeyId\":\"k\",\"\xed\xa0\x80\":1}", se, ""},
	{"depth 32", "DescribeKey", `{"KeyId":"k","x":` + nest(31, "1") + `}`, "", ""},
	{"depth 33", "DescribeKey", `{"KeyId":"k","x":` + nest(32, "1") + `}`, se, ""},
	{"depth 33 of objects", "ListKeys", strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), se, ""},
	{"10000 values", "DescribeKey", `{"KeyId":"k","x":` + values(9997) + `}`, "", ""},
	{"10001 values", "DescribeKey", `{"KeyId":"k","x":` + values(9998) + `}`, se, ""},
	{"10001 values in a list", "UntagResource", `{"KeyId":"k","TagKeys":[` + strings.TrimSuffix(strings.Repeat(`"a",`, 9998), ",") + `]}`, se, ""},

	// Duplicates.
	{"duplicate member", "DescribeKey", `{"KeyId":"a","KeyId":"b"}`, se, "Duplicate field 'KeyId'"},
	{"duplicate null member", "DescribeKey", `{"KeyId":null,"KeyId":"b"}`, se, "Duplicate field 'KeyId'"},
	{"duplicate escaped member", "DescribeKey", `{"KeyId":"a","Key\u0049d":"b"}`, se, "Duplicate field 'KeyId'"},
	{"duplicate unknown member", "DescribeKey", `{"KeyId":"a","x":1,"x":2}`, se, "Duplicate field 'x'"},
	{"duplicate deep inside unknown", "DescribeKey", `{"KeyId":"a","x":[{"y":1,"z":2,"y":3}]}`, se, "Duplicate field 'y'"},
	{"duplicate map key", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":{"a":"1","b":"2","a":"3"}}`, se, "Duplicate field 'a'"},
	{"many distinct keys", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":{"a":"","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","\u006b":""}}`, "", ""},
	{"duplicate after many keys", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":{"a":"","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","\u0061":""}}`, se, "Duplicate field 'a'"},
	{"case-folded member is unknown", "DescribeKey", `{"KeyId":"a","keyid":"b"}`, "", ""},
	{"case-folded member does not satisfy a required one", "DescribeKey", `{"keyid":"b"}`, ve, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
	{"case-folded optional member is unknown", "CreateKey", `{"description":"x"}`, "", ""},
	{"map keys do not fold", "Encrypt", `{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":{"a":"1","A":"2"}}`, "", ""},
}

func TestValidateJSONKMS(t *testing.T) {
	for _, c := range kmsCases {
		t.Run(c.op+"/"+c.name, func(t *testing.T) {
			checkJSON(t, KMS, c.op, c.body, c.code, c.msg)
		})
	}
}

func checkJSON(t *testing.T, svc *Service, op, body, code, msg string) {
	t.Helper()
	err := ValidateJSON(svc, op, []byte(body))
	if code == "" {
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a %s", err, code)
	}
	if e.Code != code || e.Message != msg {
		t.Errorf("got\n  %s: %q\nwant\n  %s: %q", e.Code, e.Message, code, msg)
	}
	if e.Message == "" && e.Detail == "" {
		t.Errorf("an error without message has no detail for the log")
	}
}

func TestEveryKMSOperationIsCovered(t *testing.T) {
	ops := KMS.Operations()
	if len(ops) != len(kmsEmpty) || len(ops) != len(kmsMinimal) {
		t.Errorf("%d operations, %d empty-body answers, %d minimal bodies", len(ops), len(kmsEmpty), len(kmsMinimal))
	}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			want, ok := kmsEmpty[op]
			if !ok {
				t.Fatalf("no expected answer to {}")
			}
			code := ve
			if want == "" {
				code = ""
			}
			checkJSON(t, KMS, op, `{}`, code, want)
			body, ok := kmsMinimal[op]
			if !ok {
				t.Fatalf("no minimal body")
			}
			checkJSON(t, KMS, op, body, "", "")
		})
	}
	for op := range kmsMinimal {
		if _, ok := KMS.Operation(op); !ok {
			t.Errorf("minimal body for %s, which KMS does not have", op)
		}
	}
}

func TestUnknownOperation(t *testing.T) {
	var e *Error
	if err := ValidateJSON(KMS, "Frobnicate", []byte(`{}`)); !errors.As(err, &e) || e.Code != "UnknownOperationException" {
		t.Errorf("got %v", err)
	}
}

// TestSensitiveValuesNeverPrinted feeds a recognisable secret to every
// sensitive member in ways that fail, and looks for it in the errors.
func TestSensitiveValuesNeverPrinted(t *testing.T) {
	secret := strings.Repeat("SECRET", 1000)
	enc := base64.StdEncoding.EncodeToString([]byte(secret))
	bodies := []struct{ op, body string }{
		{"Encrypt", `{"Plaintext":"` + enc + `"}`},                          // too long, and KeyId missing
		{"Encrypt", `{"KeyId":"k","Plaintext":"` + enc[:len(enc)-1] + `"}`}, // bad length
		{"Encrypt", `{"KeyId":"k","Plaintext":"` + enc[:8] + "!" + enc[9:] + `"}`},
		{"Encrypt", `{"KeyId":"k","Plaintext":` + enc + `}`}, // not a string
		{"Encrypt", `{"KeyId":"k","Plaintext":"` + enc + `","EncryptionContext":{"a":"` + secret[:4] + `","a":""}}`},
		{"Sign", `{"KeyId":"k","Message":"` + enc + `","SigningAlgorithm":"x"}`},
		{"VerifyMac", `{"KeyId":"k","Message":"` + enc + `","Mac":"","MacAlgorithm":"HMAC_SHA_256"}`},
		{"CreateCustomKeyStore", `{"CustomKeyStoreName":"x","KeyStorePassword":"` + secret[:40] + `"}`},
		{"CreateCustomKeyStore", `{"CustomKeyStoreName":"x","XksProxyAuthenticationCredential":{"AccessKeyId":"` + secret[:30] + `","RawSecretAccessKey":"` + secret[:63] + `!"}}`},
		{"UpdateCustomKeyStore", `{"CustomKeyStoreId":"x","XksProxyAuthenticationCredential":{"AccessKeyId":"` + secret[:31] + `"}}`},
	}
	for _, b := range bodies {
		err := ValidateJSON(KMS, b.op, []byte(b.body))
		if err == nil {
			t.Errorf("%s: accepted", b.op)
			continue
		}
		for _, s := range []string{"SECRET", "ECRE", enc[:8], "U0VDUkVU"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q holds %q", b.op, err, s)
			}
		}
	}
}

func TestWith(t *testing.T) {
	svc, err := KMS.With(Options{SkipMax: []string{"Encrypt.Plaintext"}})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"KeyId":"k","Plaintext":"` + zeros64(1<<20) + `"}`
	checkJSON(t, svc, "Encrypt", big, "", "")
	checkJSON(t, KMS, "Encrypt", big, ve,
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
	// The minimum still holds, and other users of the same shape keep
	// their maximum.
	checkJSON(t, svc, "Encrypt", `{"KeyId":"k","Plaintext":""}`, ve,
		"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1")
	checkJSON(t, svc, "GenerateMac", `{"KeyId":"k","Message":"`+zeros64(4097)+`","MacAlgorithm":"HMAC_SHA_256"}`, ve,
		"1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096")
	// Nothing else changed.
	for _, c := range kmsCases {
		if c.op == "Encrypt" && strings.Contains(c.name, "4097") {
			continue
		}
		checkJSON(t, svc, c.op, c.body, c.code, c.msg)
	}
	for _, bad := range []string{"Encrypt", "Encrypt.Nope", "Nope.Plaintext", "Encrypt.Plaintext.x"} {
		if _, err := KMS.With(Options{SkipMax: []string{bad}}); err == nil {
			t.Errorf("With(%q) succeeded", bad)
		}
	}
}

func TestCloudTrailMaps(t *testing.T) {
	checkJSON(t, CloudTrail, "StartQuery", `{"QueryAlias":"q","QueryParameters":["p"],"EventDataStoreOwnerAccountId":"111122223333"}`, "", "")
	checkJSON(t, CloudTrail, "CreateDashboard", `{"Name":"dash","TagsList":[{"Key":"k"}],"Widgets":[{"QueryStatement":"SELECT 1","ViewProperties":{"okay":"v","no":"bad value!"}}]}`, ve,
		"2 validation errors detected: Value '{okay=v, no=bad value!}' at 'widgets.1.member.viewProperties' failed to satisfy constraint: "+
			"Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 3, "+
			"Member must satisfy regular expression pattern: ^[a-zA-Z0-9._\\-]+$]; "+
			"Value '{okay=v, no=bad value!}' at 'widgets.1.member.viewProperties' failed to satisfy constraint: "+
			"Map value must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, "+
			"Member must satisfy regular expression pattern: ^[a-zA-Z0-9._\\- ]+$]")
	checkJSON(t, CloudTrail, "CreateDashboard", `{"Name":"dash","Widgets":[{"QueryStatement":"SELECT 1","ViewProperties":{"okay":"fine value"}}]}`, "", "")
	checkJSON(t, CloudTrail, "ListInsightsData", `{"InsightSource":"arn","DataType":"InsightsEvents","Dimensions":{"EventId":"e","EventName":""}}`, ve,
		"2 validation errors detected: Value '{EventId=e, EventName=}' at 'dimensions' failed to satisfy constraint: Member must have length less than or equal to 1; "+
			"Value '{EventId=e, EventName=}' at 'dimensions' failed to satisfy constraint: Map value must satisfy constraint: "+
			"[Member must have length less than or equal to 2000, Member must have length greater than or equal to 1]")
}

// Go structs as the caller decodes some inputs into, with encoding/json.
type (
	encryptInput struct {
		KeyId               *string
		Plaintext           []byte
		EncryptionContext   map[string]string
		GrantTokens         []string
		EncryptionAlgorithm *string
		DryRun              *bool
	}
	listKeysInput struct {
		Limit  *int32
		Marker *string
	}
	tagResourceInput struct {
		KeyId *string
		Tags  []struct{ TagKey, TagValue *string }
	}
	generateDataKeyInput struct {
		KeyId         *string
		NumberOfBytes *int32
		KeySpec       *string
	}
)

// decodedOK reports whether what encoding/json decodes from an accepted
// body still satisfies the constraints ValidateJSON checked: nothing may
// reach the struct around the validator.
// exactMembers returns raw with every object member that does not match a
// field name of t exactly removed, recursively: AWS (and the server's
// decoder) ignore such members, while encoding/json would match them
// without regard to case.
func exactMembers(raw json.RawMessage, t reflect.Type) json.RawMessage {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || m == nil {
			return raw
		}
		out := map[string]json.RawMessage{}
		for i := range t.NumField() {
			f := t.Field(i)
			if v, ok := m[f.Name]; ok {
				out[f.Name] = exactMembers(v, f.Type)
			}
		}
		b, _ := json.Marshal(out)
		return b
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return raw
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil || items == nil {
			return raw
		}
		for i := range items {
			items[i] = exactMembers(items[i], t.Elem())
		}
		b, _ := json.Marshal(items)
		return b
	}
	return raw
}

func decodedOK(t *testing.T, op, body string) {
	exact := func(v any) string {
		return string(exactMembers(json.RawMessage(body), reflect.TypeOf(v)))
	}
	switch op {
	case "Encrypt":
		body = exact(encryptInput{})
	case "ListKeys":
		body = exact(listKeysInput{})
	case "TagResource":
		body = exact(tagResourceInput{})
	case "GenerateDataKey":
		body = exact(generateDataKeyInput{})
	}
	length := func(s *string, lo, hi int) bool {
		return s != nil && utf8.RuneCountInString(*s) >= lo && utf8.RuneCountInString(*s) <= hi
	}
	var ok bool
	var err error
	switch op {
	case "Encrypt":
		var in encryptInput
		err = json.Unmarshal([]byte(body), &in)
		ok = length(in.KeyId, 1, 2048) && len(in.Plaintext) >= 1 && len(in.Plaintext) <= 4096 && len(in.GrantTokens) <= 10
		for _, g := range in.GrantTokens {
			ok = ok && length(&g, 1, 8192)
		}
		if in.EncryptionAlgorithm != nil {
			ok = ok && slices.Contains([]string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}, *in.EncryptionAlgorithm)
		}
	case "ListKeys":
		var in listKeysInput
		err = json.Unmarshal([]byte(body), &in)
		ok = (in.Limit == nil || (*in.Limit >= 1 && *in.Limit <= 1000)) && (in.Marker == nil || length(in.Marker, 1, 1024))
	case "TagResource":
		var in tagResourceInput
		err = json.Unmarshal([]byte(body), &in)
		ok = length(in.KeyId, 1, 2048) && in.Tags != nil
		for _, tag := range in.Tags {
			ok = ok && length(tag.TagKey, 1, 128) && length(tag.TagValue, 0, 256)
		}
	case "GenerateDataKey":
		var in generateDataKeyInput
		err = json.Unmarshal([]byte(body), &in)
		ok = length(in.KeyId, 1, 2048) && (in.NumberOfBytes == nil || (*in.NumberOfBytes >= 1 && *in.NumberOfBytes <= 1024)) &&
			(in.KeySpec == nil || *in.KeySpec == "AES_256" || *in.KeySpec == "AES_128")
	default:
		return
	}
	if err != nil || !ok {
		t.Fatalf("accepted %s %q, which decodes (err %v) to values outside the model", op, body, err)
	}
}

// FuzzValidateJSON checks that ValidateJSON never panics, answers only with
// an *Error of a known code, accepts only what encoding/json accepts, and,
// for a few operations, that what it accepts decodes into the caller's
// structs with the constraints it checked still holding.
func FuzzValidateJSON(f *testing.F) {
	ops := KMS.Operations()
	index := func(op string) uint8 { return uint8(slices.Index(ops, op)) }
	for _, c := range kmsCases {
		if len(c.body) < 2000 {
			f.Add(index(c.op), c.body)
		}
	}
	for _, op := range ops {
		f.Add(index(op), kmsMinimal[op])
	}
	f.Add(index("Encrypt"), string(encryptBody))
	f.Add(index("TagResource"), `{"KeyId":"k","Tags":[{"TagKey":"a","TagValue":""}]}`)
	f.Fuzz(func(t *testing.T, opIndex uint8, body string) {
		op := ops[int(opIndex)%len(ops)]
		err := ValidateJSON(KMS, op, []byte(body))
		if err == nil {
			if strings.Trim(body, " \t\r\n") == "" {
				return
			}
			if !json.Valid([]byte(body)) {
				t.Fatalf("accepted %q, which is not JSON", body)
			}
			decodedOK(t, op, body)
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v", err, err)
		}
		switch e.Code {
		case se, ve:
		default:
			t.Fatalf("code %q", e.Code)
		}
	})
}

// testService has what the generated models lack: a map of structures and
// a sensitive structure.
var testService = &Service{
	Name: "test", Protocol: "json",
	ops: []Operation{{Name: "Op", input: 1}},
	shapes: []shapeDef{
		{k: kStructure},
		{k: kStructure, first: 0, n: 2},
		{k: kString, f: fMin | fMax, min: 1, max: 3},
		{k: kMap, key: 2, elem: 4},
		{k: kStructure, first: 2, n: 1},
		{k: kStructure, f: fSensitive, first: 3, n: 1},
	},
	members: []memberDef{
		{name: "M", shape: 3},
		{name: "S", shape: 5},
		{name: "Name", shape: 2, f: mRequired},
		{name: "Secret", shape: 2, f: mRequired},
	},
}

func TestMapOfStructuresAndSensitiveStructure(t *testing.T) {
	checkJSON(t, testService, "Op", `{"M":{"k\u0031":{"Name":"toolong\u0021"}},"S":{"Secret":"abcdef"}}`, ve,
		"2 validation errors detected: Value 'toolong!' at 'm.k1.member.name' failed to satisfy constraint: Member must have length less than or equal to 3; "+
			"Value at 's.secret' failed to satisfy constraint: Member must have length less than or equal to 3")
	checkJSON(t, testService, "Op", `{"M":{"abc":{},"toolong":{"Name":"n"}},"S":{}}`, ve,
		"3 validation errors detected: Value at 'm' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 3, Member must have length greater than or equal to 1]; "+
			"Value null at 'm.abc.member.name' failed to satisfy constraint: Member must not be null; "+
			"Value at 's.secret' failed to satisfy constraint: Member must not be null")
}
