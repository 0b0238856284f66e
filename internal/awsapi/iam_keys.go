// This file is IAM's access key operations.

package awsapi

import (
	"context"
	"net/url"

	"strongroom/internal/identity"
)

type xmlAccessKey struct {
	UserName        string `xml:"UserName,omitempty"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

func accessKeyXML(k identity.AccessKey) xmlAccessKey {
	return xmlAccessKey{UserName: k.UserName, AccessKeyID: k.AccessKeyID, Status: k.Status, SecretAccessKey: k.SecretAccessKey, CreateDate: queryTime(k.Created)}
}

type xmlCreateAccessKey struct {
	AccessKey xmlAccessKey `xml:"AccessKey"`
}

func iamCreateAccessKey(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	k, err := h.ids.CreateUserAccessKey(ctx, c, q.Get("UserName"))
	if err != nil {
		return nil, err
	}
	return xmlCreateAccessKey{AccessKey: accessKeyXML(k)}, nil
}

type xmlListAccessKeys struct {
	AccessKeyMetadata list[xmlAccessKey] `xml:"AccessKeyMetadata"`
	IsTruncated       bool               `xml:"IsTruncated"`
	Marker            string             `xml:"Marker,omitempty"`
}

func iamListAccessKeys(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	_, keys, next, err := h.ids.ListAccessKeys(ctx, c, q.Get("UserName"), q.Get("Marker"), queryInt(q, "MaxItems"))
	if err != nil {
		return nil, err
	}
	out := xmlListAccessKeys{IsTruncated: next != "", Marker: next, AccessKeyMetadata: list[xmlAccessKey]{Member: []xmlAccessKey{}}}
	for _, k := range keys {
		k.SecretAccessKey = ""
		out.AccessKeyMetadata.Member = append(out.AccessKeyMetadata.Member, accessKeyXML(k))
	}
	return out, nil
}

func iamUpdateAccessKey(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.UpdateAccessKey(ctx, c, q.Get("UserName"), q.Get("AccessKeyId"), q.Get("Status"))
}

func iamDeleteAccessKey(ctx context.Context, h *Handler, c identity.Caller, q url.Values) (any, error) {
	return nil, h.ids.DeleteAccessKey(ctx, c, q.Get("UserName"), q.Get("AccessKeyId"))
}
