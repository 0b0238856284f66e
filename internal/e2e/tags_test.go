package e2e

import (
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"strongroom/internal/testenv"
)

// TagResource, UntagResource and ListResourceTags over the wire.

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
	}
	return m
}

func tag(k, v string) types.Tag { return types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }

func listTags(t testing.TB, c *kms.Client, keyID string) map[string]string {
	t.Helper()
	out := must[*kms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(keyID)}))
	if out.Truncated {
		t.Fatal("ListResourceTags truncated without a Limit")
	}
	return tagMap(out.Tags)
}

func TestTagUntagList(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)

	if got := listTags(t, c, id); len(got) != 0 {
		t.Fatalf("new key has tags %v", got)
	}
	must[*kms.TagResourceOutput](t)(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag("a", "1"), tag("b", "2")}}))
	// A second TagResource adds c and replaces a's value.
	must[*kms.TagResourceOutput](t)(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(keyARN(testenv.Region, id)), Tags: []types.Tag{tag("a", "one"), tag("c", "")}}))
	if got, want := listTags(t, c, id), map[string]string{"a": "one", "b": "2", "c": ""}; !maps.Equal(got, want) {
		t.Errorf("after two TagResource calls: %v, want %v", got, want)
	}
	// Untagging an absent key is not an error.
	must[*kms.UntagResourceOutput](t)(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"b", "absent"}}))
	if got, want := listTags(t, c, id), map[string]string{"a": "one", "c": ""}; !maps.Equal(got, want) {
		t.Errorf("after UntagResource: %v, want %v", got, want)
	}
	// Tag keys are case-sensitive.
	must[*kms.UntagResourceOutput](t)(c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"A"}}))
	if got := listTags(t, c, id); got["a"] != "one" {
		t.Errorf("untagging \"A\" removed \"a\": %v", got)
	}
}

func TestTagErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	unknown := "0b8c7d2e-1111-4222-8333-444455556666"

	t.Run("reserved aws: prefix", func(t *testing.T) {
		for _, k := range []string{"aws:x", "AWS:x", "Aws:x"} {
			_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag(k, "v")}})
			wantCode(t, err, "TagException")
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(unknown), Tags: []types.Tag{tag("a", "b")}})
		wantCode(t, err, "NotFoundException")
		_, err = c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(unknown), TagKeys: []string{"a"}})
		wantCode(t, err, "NotFoundException")
		_, err = c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(unknown)})
		wantCode(t, err, "NotFoundException")
	})
	t.Run("at most 50 tags per key", func(t *testing.T) {
		var fifty []types.Tag
		for i := range 50 {
			fifty = append(fifty, tag(fmt.Sprintf("k%02d", i), "v"))
		}
		must[*kms.TagResourceOutput](t)(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: fifty}))
		// Replacing a value of an existing tag keeps the count at 50.
		must[*kms.TagResourceOutput](t)(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag("k00", "w")}}))
		_, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{tag("one-too-many", "v")}})
		wantOneOf(t, err, "LimitExceededException", "TagException")
		if got := listTags(t, c, id); len(got) != 50 || got["k00"] != "w" {
			t.Errorf("after the refused 51st tag: %d tags, k00=%q", len(got), got["k00"])
		}
	})
}

func TestListResourceTagsPaging(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	c := env.KMS()
	id := aws.ToString(newKey(t, c, "").KeyId)
	want := map[string]string{}
	var tags []types.Tag
	for i := range 5 {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
		want[k] = v
		tags = append(tags, tag(k, v))
	}
	must[*kms.TagResourceOutput](t)(c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: tags}))

	got := map[string]string{}
	var sizes []int
	var marker *string
	for page := 0; page < 10; page++ {
		out := must[*kms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id), Limit: aws.Int32(2), Marker: marker}))
		sizes = append(sizes, len(out.Tags))
		for k, v := range tagMap(out.Tags) {
			if _, dup := got[k]; dup {
				t.Errorf("tag %s listed twice", k)
			}
			got[k] = v
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if !maps.Equal(got, want) || len(sizes) != 3 {
		t.Errorf("paged tags = %v in pages %v, want %v in 3 pages", got, sizes, want)
	}
	for _, limit := range []int32{0, 1001} {
		t.Run(fmt.Sprintf("Limit %d is refused", limit), func(t *testing.T) {
			_, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id), Limit: aws.Int32(limit)})
			wantCode(t, err, "ValidationException")
		})
	}
}
