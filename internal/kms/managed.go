package kms

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"strongroom/internal/arn"
	"strongroom/internal/ciphertext"
	"strongroom/internal/store"
)

// AWS managed keys and AWS owned keys.
//
// An AWS managed key is created the first time its alias (alias/aws/s3,
// alias/aws/ebs, …) is referenced in an account and region: resolve creates
// the key — KeyManager AWS, the AWS-style key policy, automatic rotation —
// and the alias in one store Update, then resolves again. The key policy is
// AWS's: principals of the account may use the key through the service
// (kms:ViaService and kms:CallerAccount conditions) and the account may read
// its metadata (Describe*, Get*, List*, RevokeGrant). Nothing else is
// allowed, so every change the customer attempts — PutKeyPolicy,
// Enable/DisableKey, ScheduleKeyDeletion, Enable/DisableKeyRotation,
// RotateKeyOnDemand, tagging, importing — is refused by the key policy with
// AccessDeniedException, as AWS answers; requireCustomerManaged stands
// behind it. The alias names are reserved (checkAliasName), so aliases
// cannot be created, moved or deleted in alias/aws/.
//
// An AWS owned key is the service's own: it lives in a store kind that
// resolve, ListKeys and every operation never read, so no caller can see or
// name it. The service uses one per region and purpose through sealOwned
// and openOwned (the import parameters of import.go are sealed under one).

// managedServices are the services with an AWS managed key alias: the
// service name in alias/aws/<name>, the service that uses the key on the
// caller's behalf (kms:ViaService) and what the key protects, for its
// description.
var managedServices = map[string]struct{ via, what string }{
	"acm":               {"acm", "ACM private keys"},
	"backup":            {"backup", "backups"},
	"codecommit":        {"codecommit", "CodeCommit repositories"},
	"dms":               {"dms", "DMS endpoints"},
	"dynamodb":          {"dynamodb", "DynamoDB data"},
	"ebs":               {"ec2", "EBS volumes"},
	"elasticfilesystem": {"elasticfilesystem", "EFS file systems"},
	"es":                {"es", "Elasticsearch data"},
	"fsx":               {"fsx", "FSx file systems"},
	"glue":              {"glue", "Glue data"},
	"kinesis":           {"kinesis", "Kinesis data"},
	"kinesisvideo":      {"kinesisvideo", "Kinesis Video Streams"},
	"lambda":            {"lambda", "Lambda functions"},
	"rds":               {"rds", "RDS database volumes"},
	"redshift":          {"redshift", "Redshift data"},
	"s3":                {"s3", "S3 objects"},
	"secretsmanager":    {"secretsmanager", "secrets in Secrets Manager"},
	"sns":               {"sns", "SNS data"},
	"sqs":               {"sqs", "SQS messages"},
	"ssm":               {"ssm", "SSM parameters"},
	"xray":              {"xray", "X-Ray data"},
}

// managedService returns the service of an AWS managed key alias, or "" for
// any other alias name.
func managedService(alias string) string {
	svc, ok := strings.CutPrefix(alias, "alias/aws/")
	if !ok {
		return ""
	}
	if _, known := managedServices[svc]; !known {
		return ""
	}
	return svc
}

// predefinedAliases returns the AWS managed key aliases, sorted: ListAliases
// lists them (without TargetKeyId) before their keys exist, as AWS does.
func predefinedAliases() []string {
	names := make([]string, 0, len(managedServices))
	for svc := range managedServices {
		names = append(names, "alias/aws/"+svc)
	}
	slices.Sort(names)
	return names
}

// errManagedKeyMissing is resolveIn's answer for the alias of an AWS managed
// key not created yet in the caller's account and region. It is a
// NotFoundException to anyone but resolve, which creates the key.
type errManagedKeyMissing struct {
	nf                       *Error
	account, region, service string
}

func (e *errManagedKeyMissing) Error() string { return e.nf.Error() }
func (e *errManagedKeyMissing) Unwrap() error { return e.nf }

// managedRotationDays is the rotation period of AWS managed keys.
func (s *Service) managedRotationDays() int32 {
	if s.cfg.AWSManagedRotationDays > 0 {
		return int32(s.cfg.AWSManagedRotationDays)
	}
	return DefaultAWSManagedRotationDays
}

// managedKeyPolicy is the key policy AWS gives the AWS managed key of a
// service.
func managedKeyPolicy(account, region, service string) string {
	ms := managedServices[service]
	name := strings.ToUpper(service)
	return `{
  "Version" : "2012-10-17",
  "Id" : "auto-` + service + `-2",
  "Statement" : [ {
    "Sid" : "Allow access through ` + name + ` for all principals in the account that are authorized to use ` + name + `",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : "` + account + `",
        "kms:ViaService" : "` + ms.via + `.` + region + `.amazonaws.com"
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + account + `:root"
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  } ]
}`
}

// createManagedKey creates the AWS managed key of service and its alias in
// account and region, unless another call (on this node or another) has
// created them meanwhile.
func (s *Service) createManagedKey(ctx context.Context, account, region, service string) error {
	alias := "alias/aws/" + service
	now := s.clock.Now()
	period := s.managedRotationDays()
	k := &keyRecord{
		ID:          newKeyID(now),
		Account:     account,
		Region:      region,
		Created:     now.Unix(),
		Description: "Default key that protects my " + managedServices[service].what + " when no other key is defined",
		State:       StateEnabled,
		Spec:        SpecSymmetricDefault,
		Usage:       UsageEncryptDecrypt,
		Origin:      OriginKMS,
		Manager:     ManagerAWS,
		Policy:      managedKeyPolicy(account, region, service),
		Service:     service,
	}
	if err := s.addMaterial(k, now); err != nil {
		return err
	}
	created := false
	err := s.update(ctx, func(tx store.Tx) error {
		created = false
		_, err := getAlias(tx, account, region, alias)
		if err == nil {
			return nil // created meanwhile
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		k.Rotation = &rotationState{Enabled: true, Period: period, Since: now.Unix()}
		if err := scheduleRotation(tx, k, now.Add(days(period)).Unix()); err != nil {
			return err
		}
		if err := tx.Create(store.KindKey, scopeOf(account, region), k.ID, encodeKey(k)); err != nil {
			return err
		}
		if err := putAlias(tx, account, region, alias, &aliasRecord{Target: k.ID, Created: now.Unix(), Updated: now.Unix()}); err != nil {
			return err
		}
		if err := s.recordServiceEvent(tx, "CreateKey", k, &ServiceEventInput{KeyId: k.arn()}); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err == nil && created {
		s.log.Info("AWS managed key created on first use", "key", k.arn(), "alias", alias)
	}
	return err
}

// AWS owned keys.

const kindOwnedKey store.Kind = "owned_key"

// ownedAccount is the account AWS owned keys are recorded under (the
// ciphertext format wants 12 digits). Even if an account of that id
// existed, it could not reach them: owned keys live in their own store
// kind, which no operation resolves keys in, under ids derived from their
// purpose.
const ownedAccount = "000000000000"

// OwnedKeyID returns the key id of the AWS owned key of a region and
// purpose: a UUID derived from both, so that nodes creating it at once
// agree on it. It never names a key any operation can reach.
func OwnedKeyID(region, purpose string) string {
	b := sha256.Sum256([]byte("strongroom/aws-owned-key/v1\x00" + region + "\x00" + purpose))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ownedKey returns the AWS owned key of region and purpose, creating it on
// first use. It must not be called inside a store transaction.
func (s *Service) ownedKey(ctx context.Context, region, purpose string) (*keyRecord, error) {
	id := OwnedKeyID(region, purpose)
	var k *keyRecord
	get := func(tx store.Tx) error {
		b, err := tx.Get(kindOwnedKey, region, id)
		if err != nil {
			return err
		}
		k, err = decodeKey(b)
		return err
	}
	err := s.view(ctx, get)
	if !errors.Is(err, store.ErrNotFound) {
		return k, err
	}
	now := s.clock.Now()
	nk := &keyRecord{
		ID: id, Account: ownedAccount, Region: region, Created: now.Unix(),
		Description: "AWS owned key: " + purpose,
		State:       StateEnabled, Spec: SpecSymmetricDefault, Usage: UsageEncryptDecrypt,
		Origin: OriginKMS, Manager: "AWS_OWNED",
	}
	if err := s.addMaterial(nk, now); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		err := tx.Create(kindOwnedKey, region, id, encodeKey(nk))
		if errors.Is(err, store.ErrExists) {
			return get(tx)
		}
		k = nk
		return err
	})
	return k, err
}

// sealOwned encrypts plaintext under the AWS owned key of region and
// purpose, bound to ec. It must not be called inside a store transaction.
func (s *Service) sealOwned(ctx context.Context, region, purpose string, plaintext []byte, ec map[string]string) ([]byte, error) {
	k, err := s.ownedKey(ctx, region, purpose)
	if err != nil {
		return nil, err
	}
	m, err := s.unsealMaterial(k, k.Current)
	if err != nil {
		return nil, err
	}
	return ciphertext.Seal(m, k.Account, k.ID, k.Current, plaintext, ec)
}

// openOwned decrypts what sealOwned sealed. Any failure to open is
// reported as errOwnedOpen.
func (s *Service) openOwned(ctx context.Context, region, purpose string, blob []byte, ec map[string]string) ([]byte, error) {
	bl, err := ciphertext.Parse(blob)
	if err != nil || bl.Account != ownedAccount || bl.KeyID != OwnedKeyID(region, purpose) {
		return nil, errOwnedOpen
	}
	k, err := s.ownedKey(ctx, region, purpose)
	if err != nil {
		return nil, err
	}
	if k.material(bl.MaterialVersion) == nil {
		return nil, errOwnedOpen
	}
	m, err := s.unsealMaterial(k, bl.MaterialVersion)
	if err != nil {
		return nil, err
	}
	pt, err := ciphertext.Open(m, bl, ec)
	if err != nil {
		return nil, errOwnedOpen
	}
	return pt, nil
}

var errOwnedOpen = errors.New("kms: sealed data does not open under its AWS owned key")

// withPredefinedAliases merges into entries — the stored aliases after the
// marker, sorted, which ListAliases has read — the AWS managed key aliases
// after the marker whose keys do not exist yet: listed by name, without a
// TargetKeyId, as AWS lists them. entries holds at least every stored alias
// up to its last one, so the merged list is correct up to its last element
// whichever of the two it comes from.
func withPredefinedAliases(tx store.Tx, account, region, after string, entries []AliasListEntry) ([]AliasListEntry, error) {
	var extra []AliasListEntry
	for _, name := range predefinedAliases() {
		if name <= after {
			continue
		}
		_, err := getAlias(tx, account, region, name)
		if err == nil {
			continue // created: listed from the store
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		extra = append(extra, AliasListEntry{AliasName: name, AliasArn: arn.Alias(region, account, name)})
	}
	if len(extra) == 0 {
		return entries, nil
	}
	merged := append(entries, extra...)
	slices.SortFunc(merged, func(a, b AliasListEntry) int { return strings.Compare(a.AliasName, b.AliasName) })
	return merged, nil
}
