package main

import (
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"net/url"
	"os"
)

// accountCmd implements `strongroom account create --endpoint URL
// [--account-id ID]`: the bootstrap account's root creates a further
// account and receives its root access key, printed once in the AWS
// shared-credentials format.
func accountCmd(args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: strongroom account create --endpoint URL [--account-id 123456789012] [--profile-name NAME]")
	}
	fs := flag.NewFlagSet("account create", flag.ContinueOnError)
	endpoint := fs.String("endpoint", os.Getenv("STRONGROOM_ENDPOINT"), "the server's URL")
	id := fs.String("account-id", "", "the new account's 12-digit id (default: random)")
	profile := fs.String("profile-name", "", "profile name for the printed credentials (default: the account id)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	c, err := newAdminClient(ctx, *endpoint, "us-east-1")
	if err != nil {
		return err
	}
	form := url.Values{"Action": {"CreateAccount"}, "Version": {"2010-05-08"}}
	if *id != "" {
		form.Set("AccountId", *id)
	}
	body, err := c.do(ctx, "iam", "application/x-www-form-urlencoded; charset=utf-8", nil, []byte(form.Encode()))
	if err != nil {
		return err
	}
	var resp struct {
		Result struct {
			Account struct {
				AccountId string
				Arn       string
			}
			AccessKey struct {
				AccessKeyId     string
				SecretAccessKey string
			}
		} `xml:"CreateAccountResult"`
	}
	if err := xml.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	r := resp.Result
	name := *profile
	if name == "" {
		name = r.Account.AccountId
	}
	fmt.Printf("# Strongroom account %s: root credentials, shown once. Keep them secret.\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		r.Account.AccountId, name, r.AccessKey.AccessKeyId, r.AccessKey.SecretAccessKey)
	return nil
}
