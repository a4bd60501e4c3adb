package policy

import (
	"fmt"
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// The variables policies see. Each is a declared CEL object type
// (gatehouse.Identity...) with a fixed set of typed fields, so the checker
// rejects command.kinds or identity.grups in New, and the interpreter reads
// fields through the closures below instead of reflection or protobuf.
//
// How it plugs into cel-go (v0.33): a *structType is both a ref.Type and a
// types.StructTypeDescriptor with a nil ReflectType. cel.Types registers it
// in the environment's own *types.Registry, which then answers the checker's
// FindStructType / FindStructFieldType. At plan time the interpreter turns
// each checked field selection into a fieldQualifier bound to our
// FieldType.GetFrom closure; at run time GetFrom receives the *object the
// activation resolved (via ref.Val.Value) and returns a cached CEL value.
var (
	identityType = newStructType("gatehouse.Identity", []field{
		{"issuer", types.StringType, func(a *activation) ref.Val { return str(a.id.Issuer) }},
		{"sub", types.StringType, func(a *activation) ref.Val { return str(a.id.Subject) }},
		{"email", types.StringType, func(a *activation) ref.Val { return str(a.id.Email) }},
		{"groups", stringList, func(a *activation) ref.Val { return a.list(a.id.Groups) }},
		{"scopes", stringList, func(a *activation) ref.Val { return a.list(a.id.Scopes) }},
		{"claims", types.NewMapType(types.StringType, types.DynType), func(a *activation) ref.Val {
			return types.NewStringInterfaceMap(a.adapter, a.id.Claims)
		}},
		{"grants", stringList, func(a *activation) ref.Val { return a.list(a.id.Grants) }},
	})
	connectionType = newStructType("gatehouse.Connection", []field{
		{"name", types.StringType, func(a *activation) ref.Val { return str(a.target.Name) }},
		{"kind", types.StringType, func(a *activation) ref.Val { return str(a.target.Kind) }},
	})
	commandType = newStructType("gatehouse.Command", []field{
		{"kind", types.StringType, func(a *activation) ref.Val { return kindVal(a.cmd.Class.Kind) }},
		{"statements", stringList, func(a *activation) ref.Val { return a.list(upper(a.cmd.Class.Statements)) }},
		{"tables", stringList, func(a *activation) ref.Val { return a.list(a.cmd.Class.Tables) }},
		{"has_where", types.BoolType, func(a *activation) ref.Val { return types.Bool(a.cmd.Class.HasWhere) }},
		{"text", types.StringType, func(a *activation) ref.Val { return str(a.cmd.Text) }},
		{"functions", stringList, func(a *activation) ref.Val { return a.list(a.cmd.Class.Functions) }},
		{"masked_predicates", stringList, func(a *activation) ref.Val { return a.list(a.cmd.Class.MaskedPredicates) }},
		{"masked_writes", stringList, func(a *activation) ref.Val { return a.list(a.cmd.Class.MaskedWrites) }},
		// -1 when the adapter made no estimate.
		{"estimated_rows", types.IntType, func(a *activation) ref.Val {
			if a.cmd.EstimatedRows == nil {
				return unknownRows
			}
			return types.Int(*a.cmd.EstimatedRows)
		}},
	})
	requestType = newStructType("gatehouse.Request", []field{
		{"reason", types.StringType, func(a *activation) ref.Val { return str(a.cmd.Request.Reason) }},
		{"trace_id", types.StringType, func(a *activation) ref.Val { return str(a.cmd.Request.TraceID) }},
	})
)

// numVariables is len(variables).
const numVariables = 4

// variables lists the top-level variables; an activation holds one object
// per entry, at the same index.
var variables = [numVariables]struct {
	name string
	typ  *structType
}{
	{"identity", identityType},
	{"connection", connectionType},
	{"command", commandType},
	{"request", requestType},
}

var (
	stringList  = types.NewListType(types.StringType)
	unknownRows = types.Int(-1)
	emptyString = types.String("")
	// kindVals holds the CEL string of each gate.Kind, boxed once.
	kindVals = func() (vs [8]ref.Val) {
		for i := range vs {
			vs[i] = types.String(gate.Kind(i).String())
		}
		return vs
	}()
)

// maxFields bounds the fields of one type (object caches one value per field).
const maxFields = 12

// field declares one field: its CEL type and how to compute its value from
// the activation. load runs at most once per field per Decide.
type field struct {
	name string
	typ  *types.Type
	load func(a *activation) ref.Val
}

// structType is a declared CEL object type. Immutable after newStructType;
// shared by every Engine.
type structType struct {
	name    string
	celType *types.Type
	fields  []field
	byName  map[string]int
	ftypes  []*types.FieldType
	names   []string
}

func newStructType(name string, fields []field) *structType {
	if len(fields) > maxFields {
		panic("policy: too many fields for " + name)
	}
	t := &structType{
		name:    name,
		celType: types.NewObjectType(name, traits.FieldTesterType, traits.IndexerType),
		fields:  fields,
		byName:  make(map[string]int, len(fields)),
	}
	for i, f := range fields {
		t.byName[f.name] = i
		t.names = append(t.names, f.name)
		t.ftypes = append(t.ftypes, &types.FieldType{
			Type:  f.typ,
			IsSet: func(target any) bool { _, ok := target.(*object); return ok },
			GetFrom: func(target any) (any, error) {
				o, ok := target.(*object)
				if !ok || o.typ != t {
					return nil, fmt.Errorf("%s.%s: unexpected operand %T", name, f.name, target)
				}
				return o.get(i), nil
			},
		})
	}
	slices.Sort(t.names)
	return t
}

// HasTrait implements ref.Type.
func (t *structType) HasTrait(trait int) bool {
	return trait == traits.FieldTesterType || trait == traits.IndexerType
}

// TypeName implements ref.Type.
func (t *structType) TypeName() string { return t.name }

// ReflectType implements types.StructTypeDescriptor: there is no Go struct
// behind the type, so the registry never adapts native values to it.
func (t *structType) ReflectType() reflect.Type { return nil }

// FieldNames implements types.StructTypeDescriptor.
func (t *structType) FieldNames() []string { return slices.Clone(t.names) }

// FindFieldType implements types.StructTypeDescriptor.
func (t *structType) FindFieldType(name string) (*types.FieldType, bool) {
	i, ok := t.byName[name]
	if !ok {
		return nil, false
	}
	return t.ftypes[i], true
}

// NewValue implements types.StructTypeDescriptor. Policies cannot construct
// these objects (gatehouse.Command{...}); only Decide supplies them.
func (t *structType) NewValue(types.Adapter, map[string]ref.Val) ref.Val {
	return types.NewErr("%s values cannot be constructed in a policy", t.name)
}

// Adapt implements types.StructTypeDescriptor. With a nil ReflectType the
// registry does not call it; it accepts only this type's own objects.
func (t *structType) Adapt(_ types.Adapter, v any) ref.Val {
	if o, ok := v.(*object); ok && o.typ == t {
		return o
	}
	return types.NewErr("cannot adapt %T to %s", v, t.name)
}

// kindVal returns the CEL string of k ("unknown" for the zero or an
// out-of-range Kind) without allocating.
func kindVal(k gate.Kind) ref.Val {
	if int(k) < len(kindVals) {
		return kindVals[k]
	}
	return kindVals[0]
}
