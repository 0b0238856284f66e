package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

// adminClient sends admin calls to a running server, signed with SigV4
// using the caller's AWS credentials (environment variables, shared
// credentials file, profile), like any other AWS client.
type adminClient struct {
	endpoint string
	creds    aws.Credentials
	region   string
	http     *http.Client
}

func newAdminClient(ctx context.Context, endpoint, region string) (*adminClient, error) {
	if endpoint == "" {
		return nil, errors.New("--endpoint is required (e.g. http://127.0.0.1:4599)")
	}
	opts := []func(*config.LoadOptions) error{}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS credentials: %w", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("no AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_SHARED_CREDENTIALS_FILE): %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return &adminClient{endpoint: strings.TrimRight(endpoint, "/"), creds: creds, region: cfg.Region, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// do sends body to the endpoint, signed for service, and returns the
// response body; a non-2xx status is an error carrying the body.
func (c *adminClient) do(ctx context.Context, service, contentType string, headers map[string]string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), service, c.region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(out)))
	}
	return out, nil
}
