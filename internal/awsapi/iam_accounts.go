// This file is Strongroom's own IAM query action CreateAccount, which the
// AWS model does not have:
//
//	POST / (SigV4 service "iam", any region)
//	Action=CreateAccount&Version=2010-05-08[&AccountId=123456789012]
//
// Only the bootstrap account's root may call it. Without AccountId a random
// 12-digit id is chosen. The answer carries the new account and an access
// key for its root, whose secret is never revealed again:
//
//	<CreateAccountResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//	  <CreateAccountResult>
//	    <Account><AccountId>…</AccountId><Arn>arn:aws:iam::…:root</Arn><CreateDate>…</CreateDate></Account>
//	    <AccessKey><AccessKeyId>AKIA…</AccessKeyId><Status>Active</Status><SecretAccessKey>…</SecretAccessKey><CreateDate>…</CreateDate></AccessKey>
//	  </CreateAccountResult>
//	  <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
//	</CreateAccountResponse>
//
// Errors: AccessDenied (403) for any other caller, EntityAlreadyExists
// (409) for an id in use, ValidationError (400) for an id that is not 12
// digits.

package awsapi

import (
	"context"
	"net/url"

	"strongroom/internal/arn"
	"strongroom/internal/identity"
)

type xmlCreateAccount struct {
	Account struct {
		AccountID  string `xml:"AccountId"`
		Arn        string `xml:"Arn"`
		CreateDate string `xml:"CreateDate"`
	} `xml:"Account"`
	AccessKey xmlAccessKey `xml:"AccessKey"`
}

func iamCreateAccount(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	k, err := h.ids.CreateAccountAs(ctx, c, q.Get("AccountId"))
	if err != nil {
		return nil, err
	}
	var out xmlCreateAccount
	out.Account.AccountID = k.Account
	out.Account.Arn = arn.Root(k.Account)
	out.Account.CreateDate = queryTime(k.Created)
	out.AccessKey = accessKeyXML(k)
	return out, nil
}
