package shape

import (
	"errors"
	"sort"
	"strings"
)

//go:generate go run ./gen

// Service is the input model of one AWS service: its operations and the
// shapes their inputs are made of. The generated services (KMS, IAM, STS,
// CloudTrail) are never modified; With derives an adjusted copy.
type Service struct {
	Name         string // botocore name: "kms", "iam", "sts", "cloudtrail"
	FullName     string // "AWS Key Management Service"
	APIVersion   string // "2014-11-01"
	Protocol     string // "json" (AWS JSON 1.1, ValidateJSON) or "query" (ValidateQuery)
	JSONVersion  string // "1.1" for json services
	TargetPrefix string // X-Amz-Target prefix of json services: "TrentService"

	ops      []Operation // sorted by Name
	shapes   []shapeDef  // shapes[0] is the empty input of operations without one
	members  []memberDef
	enums    [][]string // enums[0] unused
	patterns []*pattern // patterns[0] unused; shared between a Service and its copies
}

// Operation is one operation of a Service.
type Operation struct {
	// Name is the operation name: "Encrypt", the part of X-Amz-Target
	// after the dot, or the query protocol's Action.
	Name string
	// DryRun reports whether the input has a DryRun member.
	DryRun bool
	// KeyMembers names the top-level input members that reference a KMS key
	// (members of shape KeyIdType), in model order: ["KeyId"] for most KMS
	// operations, ["TargetKeyId"] for CreateAlias and UpdateAlias,
	// ["SourceKeyId", "DestinationKeyId"] for ReEncrypt, none for CreateKey.
	// Only KMS has any.
	KeyMembers []string

	input uint16 // index into Service.shapes
}

// Operation returns the operation called name. It is shared: do not
// modify it.
func (s *Service) Operation(name string) (*Operation, bool) {
	i := sort.Search(len(s.ops), func(i int) bool { return s.ops[i].Name >= name })
	if i < len(s.ops) && s.ops[i].Name == name {
		return &s.ops[i], true
	}
	return nil, false
}

// Operations returns the names of all operations of s in lexical order.
func (s *Service) Operations() []string {
	names := make([]string, len(s.ops))
	for i := range s.ops {
		names[i] = s.ops[i].Name
	}
	return names
}

// Options adjusts what a Service derived by With checks.
type Options struct {
	// SkipMax lists top-level input members, as "Operation.Member", whose
	// maximum (length, or value for numbers) is not checked, because the
	// caller enforces its own limit with its own message. The minimum and
	// every other constraint still apply. Strongroom sets
	// "Encrypt.Plaintext": KMS's model caps it at 4096 bytes, the core at a
	// configurable 1 MiB.
	SkipMax []string
}

// With returns a copy of s adjusted by o. s itself is unchanged, so the
// generated services stay exact and copies may differ. It fails if o names
// an operation or member s does not have; call it once at start-up.
func (s *Service) With(o Options) (*Service, error) {
	c := *s
	c.ops = append([]Operation(nil), s.ops...)
	c.shapes = append([]shapeDef(nil), s.shapes...)
	c.members = append([]memberDef(nil), s.members...)
	for _, p := range o.SkipMax {
		opName, member, ok := strings.Cut(p, ".")
		if !ok || strings.Contains(member, ".") {
			return nil, errors.New("shape: SkipMax " + p + ": want Operation.Member")
		}
		i := sort.Search(len(c.ops), func(i int) bool { return c.ops[i].Name >= opName })
		if i == len(c.ops) || c.ops[i].Name != opName {
			return nil, errors.New("shape: SkipMax " + p + ": " + s.Name + " has no operation " + opName)
		}
		op := &c.ops[i]
		// The input structure may be shared with other operations: give
		// this one its own copy before marking the member.
		in := c.shapes[op.input]
		first := len(c.members)
		c.members = append(c.members, c.members[in.first:int(in.first)+int(in.n)]...)
		in.first = uint16(first)
		found := false
		for j := range int(in.n) {
			if c.members[first+j].name == member {
				c.members[first+j].f |= mSkipMax
				found = true
			}
		}
		if !found {
			return nil, errors.New("shape: SkipMax " + p + ": " + opName + " has no input member " + member)
		}
		op.input = uint16(len(c.shapes))
		c.shapes = append(c.shapes, in)
	}
	return &c, nil
}

// UncheckedPatterns returns the patterns of s that Go's regexp package
// (RE2) cannot express, such as lookahead; values are not checked against
// them. It compiles every pattern of s, which is otherwise done lazily.
func (s *Service) UncheckedPatterns() []string {
	var out []string
	for _, p := range s.patterns[min(1, len(s.patterns)):] {
		if p.get() == nil {
			out = append(out, p.src)
		}
	}
	return out
}

type kind uint8

const (
	kStructure kind = iota + 1
	kString
	kBlob
	kInteger
	kLong
	kBoolean
	kTimestamp
	kList
	kMap
	kDouble
	kFloat
)

// Shape flags.
const (
	fSensitive uint8 = 1 << iota // botocore "sensitive": never print the value
	fMin                         // min is set
	fMax                         // max is set
)

// shapeDef is one shape of the generated tables. Leaf shapes with the same
// constraints are one entry.
type shapeDef struct {
	k       kind
	f       uint8
	n       uint8  // structure: number of members
	first   uint16 // structure: index of its first member in Service.members
	pattern uint16 // index into Service.patterns, 0 for none
	enum    uint16 // index into Service.enums, 0 for none
	elem    uint16 // list member or map value shape
	key     uint16 // map key shape
	min     int64  // length for string (code points), blob (bytes), list, map; value for numbers
	max     int64
}

// Member flags.
const (
	mRequired uint8 = 1 << iota
	mSkipMax        // set by With
)

type memberDef struct {
	name  string
	shape uint16
	f     uint8
}
