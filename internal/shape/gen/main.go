// Command gen writes the zz_generated_*.go tables of package shape from the
// botocore service models of KMS, IAM, STS and CloudTrail.
//
// Usage (from internal/shape, which is what go generate does):
//
//	go run ./gen [-botocore DIR] [-out DIR]
//
// DIR is the botocore package directory (the one holding data/) or its data
// directory. Without -botocore the generator asks python3 where botocore is
// installed. For each service it reads the newest dated folder present.
//
// Only shapes reachable from an operation's input are written, and only what
// validation needs: type, members and their required flag, min/max, enum,
// pattern and the sensitive trait. Documentation is left out. Leaf shapes with
// identical constraints share one entry. A model feature the validator does
// not implement (unions, documents, event streams, locationName, …) stops the
// generator with an error rather than producing a table that validates less
// than the model says.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// service says which botocore model to read and how to name its table.
type service struct {
	dir      string // folder under botocore's data/
	goName   string // Go variable in package shape
	file     string // output file
	keyShape string // shape that references a KMS key; "" if none
}

var services = []service{
	{dir: "kms", goName: "KMS", file: "zz_generated_kms.go", keyShape: "KeyIdType"},
	{dir: "iam", goName: "IAM", file: "zz_generated_iam.go"},
	{dir: "sts", goName: "STS", file: "zz_generated_sts.go"},
	{dir: "cloudtrail", goName: "CloudTrail", file: "zz_generated_cloudtrail.go"},
}

func main() {
	botocore := flag.String("botocore", "", "botocore package or data directory (default: ask python3)")
	out := flag.String("out", ".", "directory to write the generated files to")
	flag.Parse()
	if err := run(*botocore, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(botocore, out string) error {
	data, err := dataDir(botocore)
	if err != nil {
		return err
	}
	for _, s := range services {
		src, rel, err := readModel(data, s.dir)
		if err != nil {
			return err
		}
		code, err := generate(s, src, rel)
		if err != nil {
			return fmt.Errorf("%s: %w", s.dir, err)
		}
		if err := os.WriteFile(filepath.Join(out, s.file), code, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// dataDir finds botocore's data directory.
func dataDir(dir string) (string, error) {
	if dir == "" {
		cmd := exec.Command("python3", "-c", "import botocore,os;print(os.path.dirname(botocore.__file__))")
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("botocore not found through python3 (%v); pass -botocore DIR", err)
		}
		dir = strings.TrimSpace(string(b))
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "kms")); err == nil && fi.IsDir() {
		return filepath.Join(dir, "data"), nil
	}
	if fi, err := os.Stat(filepath.Join(dir, "kms")); err == nil && fi.IsDir() {
		return dir, nil
	}
	return "", fmt.Errorf("%s holds no botocore data/kms", dir)
}

// readModel returns the newest service-2.json of svc and its path relative
// to the data directory.
func readModel(data, svc string) ([]byte, string, error) {
	entries, err := os.ReadDir(filepath.Join(data, svc))
	if err != nil {
		return nil, "", err
	}
	var dated []string
	for _, e := range entries {
		if e.IsDir() {
			dated = append(dated, e.Name())
		}
	}
	if len(dated) == 0 {
		return nil, "", fmt.Errorf("no model folder under %s", filepath.Join(data, svc))
	}
	sort.Strings(dated)
	folder := filepath.Join(data, svc, dated[len(dated)-1])
	for _, name := range []string{"service-2.json", "service-2.json.gz"} {
		f, err := os.Open(filepath.Join(folder, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, "", err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				return nil, "", err
			}
			r = zr
		}
		b, err := io.ReadAll(r)
		return b, svc + "/" + dated[len(dated)-1] + "/service-2.json", err
	}
	return nil, "", fmt.Errorf("no service-2.json in %s", folder)
}

type model struct {
	Metadata struct {
		APIVersion      string `json:"apiVersion"`
		Protocol        string `json:"protocol"`
		JSONVersion     string `json:"jsonVersion"`
		TargetPrefix    string `json:"targetPrefix"`
		ServiceFullName string `json:"serviceFullName"`
	} `json:"metadata"`
	Operations map[string]struct {
		Input *struct {
			Shape string `json:"shape"`
		} `json:"input"`
	} `json:"operations"`
	Shapes map[string]json.RawMessage `json:"shapes"`
}

type ref struct {
	Shape string `json:"shape"`
}

type rawShape struct {
	Type      string       `json:"type"`
	Required  []string     `json:"required"`
	Members   orderedRefs  `json:"members"`
	Member    *ref         `json:"member"`
	Key       *ref         `json:"key"`
	Value     *ref         `json:"value"`
	Min       *json.Number `json:"min"`
	Max       *json.Number `json:"max"`
	Pattern   *string      `json:"pattern"`
	Enum      []string     `json:"enum"`
	Sensitive bool         `json:"sensitive"`
}

// orderedRefs keeps a structure's members in the order of the model, which
// is the order AWS reports validation errors in.
type orderedRefs []namedRef

type namedRef struct {
	name string
	ref  ref
}

func (o *orderedRefs) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("members is not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name := t.(string)
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		for k := range raw {
			switch k {
			case "shape", "documentation", "deprecated", "deprecatedMessage", "idempotencyToken", "box":
			default:
				return fmt.Errorf("member %s: unsupported trait %q", name, k)
			}
		}
		var r ref
		if err := json.Unmarshal(raw["shape"], &r.Shape); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		*o = append(*o, namedRef{name, r})
	}
	_, err := dec.Token()
	return err
}

// allowedShapeKeys are the shape traits the tables carry or may safely drop.
var allowedShapeKeys = map[string]bool{
	"type": true, "required": true, "members": true, "member": true, "key": true, "value": true,
	"min": true, "max": true, "pattern": true, "enum": true, "sensitive": true,
	"documentation": true, "deprecated": true, "deprecatedMessage": true, "box": true,
}

var kinds = map[string]string{
	"structure": "kStructure", "string": "kString", "blob": "kBlob", "integer": "kInteger",
	"long": "kLong", "boolean": "kBoolean", "timestamp": "kTimestamp", "list": "kList",
	"map": "kMap", "double": "kDouble", "float": "kFloat",
}

// out is one table entry.
type out struct {
	names   []string // botocore shapes sharing it
	kind    string
	flags   []string
	min     int64
	max     int64
	pattern int // index+1
	enum    int // index+1
	elem    string
	key     string
	first   int
	n       int
}

type gen struct {
	m        model
	shapes   map[string]*rawShape
	index    map[string]int // botocore name -> table index
	table    []*out
	leafKey  map[string]int
	members  []string // rendered memberDef literals
	enums    [][]string
	enumIdx  map[string]int
	patterns []string
	patIdx   map[string]int
}

func generate(s service, src []byte, rel string) ([]byte, error) {
	g := &gen{shapes: map[string]*rawShape{}, index: map[string]int{}, leafKey: map[string]int{},
		enumIdx: map[string]int{}, patIdx: map[string]int{}}
	if err := json.Unmarshal(src, &g.m); err != nil {
		return nil, err
	}
	switch g.m.Metadata.Protocol {
	case "json", "query":
	default:
		return nil, fmt.Errorf("unsupported protocol %q", g.m.Metadata.Protocol)
	}
	opNames := make([]string, 0, len(g.m.Operations))
	for name := range g.m.Operations {
		opNames = append(opNames, name)
	}
	sort.Strings(opNames)

	// Entry 0 is the empty input of operations that have none.
	g.table = append(g.table, &out{names: []string{"(no input)"}, kind: "kStructure"})
	var queue []string
	visit := func(name string) error {
		if _, ok := g.index[name]; ok {
			return nil
		}
		if _, ok := g.shapes[name]; ok {
			return nil
		}
		sh, err := g.load(name)
		if err != nil {
			return err
		}
		g.shapes[name] = sh
		queue = append(queue, name)
		return nil
	}
	for _, op := range opNames {
		if in := g.m.Operations[op].Input; in != nil {
			if err := visit(in.Shape); err != nil {
				return nil, err
			}
		}
	}
	// Breadth first, so the order of the table follows the operations.
	for i := 0; i < len(queue); i++ {
		sh := g.shapes[queue[i]]
		for _, m := range sh.Members {
			if err := visit(m.ref.Shape); err != nil {
				return nil, err
			}
		}
		for _, r := range []*ref{sh.Member, sh.Key, sh.Value} {
			if r != nil {
				if err := visit(r.Shape); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, name := range queue {
		if err := g.place(name); err != nil {
			return nil, fmt.Errorf("shape %s: %w", name, err)
		}
	}
	for _, name := range queue {
		if err := g.fill(name); err != nil {
			return nil, fmt.Errorf("shape %s: %w", name, err)
		}
	}

	var b bytes.Buffer
	sum := sha256.Sum256(src)
	fmt.Fprintf(&b, "// Code generated by \"go run ./gen\" from botocore data/%s; DO NOT EDIT.\n", rel)
	fmt.Fprintf(&b, "// Source SHA-256: %s\n\n", hex.EncodeToString(sum[:]))
	b.WriteString("package shape\n\n")
	md := g.m.Metadata
	fmt.Fprintf(&b, "// %s is the input model of %s (API version %s, protocol %s): %d operations, %d table shapes.\n",
		s.goName, md.ServiceFullName, md.APIVersion, md.Protocol, len(opNames), len(g.table))
	fmt.Fprintf(&b, "var %s = &%sService\n\n", s.goName, s.dir)
	fmt.Fprintf(&b, "var %sService = Service{\n", s.dir)
	fmt.Fprintf(&b, "Name: %q,\nFullName: %q,\nAPIVersion: %q,\nProtocol: %q,\n", s.dir, md.ServiceFullName, md.APIVersion, md.Protocol)
	if md.JSONVersion != "" {
		fmt.Fprintf(&b, "JSONVersion: %q,\n", md.JSONVersion)
	}
	if md.TargetPrefix != "" {
		fmt.Fprintf(&b, "TargetPrefix: %q,\n", md.TargetPrefix)
	}
	b.WriteString("ops: []Operation{\n")
	for _, op := range opNames {
		in := g.m.Operations[op].Input
		idx := 0
		var dryRun bool
		var keys []string
		if in != nil {
			idx = g.index[in.Shape]
			for _, m := range g.shapes[in.Shape].Members {
				if m.name == "DryRun" {
					dryRun = true
				}
				if s.keyShape != "" && m.ref.Shape == s.keyShape {
					keys = append(keys, strconv.Quote(m.name))
				}
			}
		}
		fmt.Fprintf(&b, "{Name: %q, input: %d", op, idx)
		if dryRun {
			b.WriteString(", DryRun: true")
		}
		if len(keys) > 0 {
			fmt.Fprintf(&b, ", KeyMembers: []string{%s}", strings.Join(keys, ", "))
		}
		b.WriteString("},\n")
	}
	b.WriteString("},\nshapes: []shapeDef{\n")
	for i, o := range g.table {
		var f []string
		f = append(f, "k: "+o.kind)
		if len(o.flags) > 0 {
			f = append(f, "f: "+strings.Join(o.flags, " | "))
		}
		if slices.Contains(o.flags, "fMin") {
			f = append(f, fmt.Sprintf("min: %d", o.min))
		}
		if slices.Contains(o.flags, "fMax") {
			f = append(f, fmt.Sprintf("max: %d", o.max))
		}
		if o.pattern > 0 {
			f = append(f, fmt.Sprintf("pattern: %d", o.pattern))
		}
		if o.enum > 0 {
			f = append(f, fmt.Sprintf("enum: %d", o.enum))
		}
		if o.elem != "" {
			f = append(f, fmt.Sprintf("elem: %d", g.index[o.elem]))
		}
		if o.key != "" {
			f = append(f, fmt.Sprintf("key: %d", g.index[o.key]))
		}
		if o.kind == "kStructure" && o.n > 0 {
			f = append(f, fmt.Sprintf("first: %d, n: %d", o.first, o.n))
		}
		fmt.Fprintf(&b, "{%s}, // %d %s\n", strings.Join(f, ", "), i, strings.Join(o.names, " "))
	}
	b.WriteString("},\nmembers: []memberDef{\n")
	for i, m := range g.members {
		fmt.Fprintf(&b, "%s, // %d\n", m, i)
	}
	b.WriteString("},\n")
	if len(g.enums) > 0 {
		b.WriteString("enums: [][]string{\n")
		b.WriteString("nil,\n")
		for _, e := range g.enums {
			q := make([]string, len(e))
			for i, v := range e {
				q[i] = strconv.Quote(v)
			}
			fmt.Fprintf(&b, "{%s},\n", strings.Join(q, ", "))
		}
		b.WriteString("},\n")
	}
	if len(g.patterns) > 0 {
		b.WriteString("patterns: []*pattern{\n")
		b.WriteString("nil,\n")
		for _, p := range g.patterns {
			fmt.Fprintf(&b, "{src: %s},\n", quote(p))
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	code, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting generated code: %w", err)
	}
	return code, nil
}

// quote prefers a raw string, which keeps regular expressions readable.
func quote(s string) string {
	if !strings.ContainsAny(s, "`\r") && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

func (g *gen) load(name string) (*rawShape, error) {
	raw, ok := g.m.Shapes[name]
	if !ok {
		return nil, fmt.Errorf("shape %s is referenced but not defined", name)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, err
	}
	for k := range keys {
		if !allowedShapeKeys[k] {
			return nil, fmt.Errorf("shape %s: unsupported trait %q", name, k)
		}
	}
	sh := new(rawShape)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(sh); err != nil {
		return nil, fmt.Errorf("shape %s: %w", name, err)
	}
	if _, ok := kinds[sh.Type]; !ok {
		return nil, fmt.Errorf("shape %s: unsupported type %q", name, sh.Type)
	}
	return sh, nil
}

// place gives every reachable shape its table index; leaves with identical
// constraints share one.
func (g *gen) place(name string) error {
	sh := g.shapes[name]
	o := &out{names: []string{name}, kind: kinds[sh.Type]}
	if sh.Sensitive {
		o.flags = append(o.flags, "fSensitive")
	}
	for _, lim := range []struct {
		n    *json.Number
		flag string
		dst  *int64
	}{{sh.Min, "fMin", &o.min}, {sh.Max, "fMax", &o.max}} {
		if lim.n == nil {
			continue
		}
		v, err := lim.n.Int64()
		if err != nil {
			return fmt.Errorf("non-integer %s %s", lim.flag, lim.n)
		}
		o.flags = append(o.flags, lim.flag)
		*lim.dst = v
	}
	if sh.Pattern != nil {
		if sh.Type != "string" {
			return fmt.Errorf("pattern on a %s", sh.Type)
		}
		i, ok := g.patIdx[*sh.Pattern]
		if !ok {
			g.patterns = append(g.patterns, *sh.Pattern)
			i = len(g.patterns)
			g.patIdx[*sh.Pattern] = i
		}
		o.pattern = i
	}
	if sh.Enum != nil {
		if sh.Type != "string" {
			return fmt.Errorf("enum on a %s", sh.Type)
		}
		k := strings.Join(sh.Enum, "\x00")
		i, ok := g.enumIdx[k]
		if !ok {
			g.enums = append(g.enums, sh.Enum)
			i = len(g.enums)
			g.enumIdx[k] = i
		}
		o.enum = i
	}
	switch sh.Type {
	case "structure":
		if len(sh.Members) > 64 {
			return fmt.Errorf("%d members; the validator tracks at most 64", len(sh.Members))
		}
		for _, r := range sh.Required {
			if !slices.ContainsFunc(sh.Members, func(m namedRef) bool { return m.name == r }) {
				return fmt.Errorf("required member %s does not exist", r)
			}
		}
	case "list":
		if sh.Member == nil {
			return errors.New("list without member")
		}
		o.elem = sh.Member.Shape
	case "map":
		if sh.Key == nil || sh.Value == nil {
			return errors.New("map without key or value")
		}
		if g.shapes[sh.Key.Shape].Type != "string" {
			return errors.New("map key is not a string")
		}
		o.key, o.elem = sh.Key.Shape, sh.Value.Shape
	default:
		if len(sh.Members) > 0 || sh.Member != nil || sh.Key != nil {
			return fmt.Errorf("%s with members", sh.Type)
		}
		k := fmt.Sprintf("%s|%v|%d|%d|%d|%d", o.kind, o.flags, o.min, o.max, o.pattern, o.enum)
		if i, ok := g.leafKey[k]; ok {
			g.table[i].names = append(g.table[i].names, name)
			g.index[name] = i
			return nil
		}
		g.leafKey[k] = len(g.table)
	}
	g.index[name] = len(g.table)
	g.table = append(g.table, o)
	return nil
}

// fill lays out the members of structures in the shared member table.
func (g *gen) fill(name string) error {
	sh := g.shapes[name]
	if sh.Type != "structure" {
		return nil
	}
	o := g.table[g.index[name]]
	o.first, o.n = len(g.members), len(sh.Members)
	for _, m := range sh.Members {
		lit := fmt.Sprintf("{name: %q, shape: %d", m.name, g.index[m.ref.Shape])
		if slices.Contains(sh.Required, m.name) {
			lit += ", f: mRequired"
		}
		g.members = append(g.members, lit+"}")
	}
	return nil
}
