package policy_test

import (
	"fmt"

	"strongroom/internal/policy"
)

// The exam trap: a key policy without the "Enable IAM User Permissions"
// statement makes IAM policies count for nothing.
func Example() {
	const withoutRoot = `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "Allow use of the key",
	    "Effect": "Allow",
	    "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleRole"},
	    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
	    "Resource": "*"
	  }]
	}`
	const withRoot = `{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "Enable IAM User Permissions",
	    "Effect": "Allow",
	    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
	    "Action": "kms:*",
	    "Resource": "*"
	  }]
	}`
	iam, err := policy.ParseIdentityPolicy(`{
	  "Version": "2012-10-17",
	  "Statement": {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:aws:kms:*:111122223333:key/*"}
	}`)
	if err != nil {
		panic(err)
	}
	req := &policy.Request{
		Principal: policy.Principal{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/bob", Type: policy.TypeIAMUser, UserName: "bob"},
		Action:    "kms:Encrypt",
		Resource:  "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	}
	for _, doc := range []string{withoutRoot, withRoot} {
		kp, err := policy.ParseKeyPolicy(doc)
		if err != nil {
			panic(err)
		}
		d := policy.Authorize(policy.KeyAccess{KeyAccount: "111122223333", KeyPolicy: kp, IdentityPolicies: []*policy.Policy{iam}}, req)
		if d.Allowed {
			fmt.Println("allowed:", d.Reason)
		} else {
			fmt.Println(policy.DenyMessage(req, d))
		}
	}
	// Output:
	// User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab because no resource-based policy allows the kms:Encrypt action
	// allowed: the key policy allows the account and an identity-based policy allows the principal
}

// A policy document that is not valid gets an *Error whose Message is the
// text of MalformedPolicyDocumentException.
func ExampleParseKeyPolicy_error() {
	_, err := policy.ParseKeyPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"Users","Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	if pe, ok := err.(*policy.Error); ok {
		fmt.Println(pe.Message())
	}
	fmt.Println(err)
	// Output:
	// Policy contains a statement with no principal. (statement 1, Sid "Users")
	// policy: Policy contains a statement with no principal. (statement 1, Sid "Users")
}
