package policy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/gatehouse/gatehouse/internal/gate"
)

// activation binds the four variables for one Decide. It implements
// interpreter.Activation directly (no map of names) and owns the four
// objects, whose field values it converts lazily and caches.
//
// Lifetime: taken from a pool at the start of Decide and returned at its
// end; nothing it holds (including CEL values built over the input's slices
// and maps) may outlive the call. It is used by one goroutine at a time.
type activation struct {
	id      *gate.Identity // never nil: anonymous callers get noIdentity
	target  gate.Target
	cmd     *gate.Command
	adapter types.Adapter
	objs    [numVariables]object
}

// noIdentity stands in for a nil Identity: every field empty.
var noIdentity = &gate.Identity{}

// activations pools activations; each is bound to the adapter it was made
// with, so the pool lives in the Engine.
type activations struct {
	pool sync.Pool
}

func newActivations(adapter types.Adapter) *activations {
	as := &activations{}
	as.pool.New = func() any {
		a := &activation{adapter: adapter}
		for i, v := range variables {
			a.objs[i] = object{typ: v.typ, act: a}
		}
		return a
	}
	return as
}

// get returns an activation bound to in. cmd must not be nil.
func (as *activations) get(in gate.Input) *activation {
	a := as.pool.Get().(*activation)
	a.id = in.Identity
	if a.id == nil {
		a.id = noIdentity
	}
	a.target = in.Target
	a.cmd = in.Command
	return a
}

// put clears a (dropping every reference into the input) and pools it.
func (as *activations) put(a *activation) {
	a.id, a.target, a.cmd = nil, gate.Target{}, nil
	for i := range a.objs {
		a.objs[i].slots = [maxFields]ref.Val{}
	}
	as.pool.Put(a)
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	for i := range variables {
		if variables[i].name == name {
			return &a.objs[i], true
		}
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// list wraps ss as a CEL list(string) without copying it.
func (a *activation) list(ss []string) ref.Val { return types.NewStringList(a.adapter, ss) }

// str boxes s as a CEL string; the empty string costs no allocation.
func str(s string) ref.Val {
	if s == "" {
		return emptyString
	}
	return types.String(s)
}

// upper returns ss with every tag in upper case, so a rule on
// command.statements cannot be sidestepped by a classifier that reports
// "delete" instead of "DELETE". It returns ss itself (no allocation) when
// every tag is already upper case.
func upper(ss []string) []string {
	var out []string
	for i, s := range ss {
		u := strings.ToUpper(s)
		if u != s && out == nil {
			out = make([]string, len(ss))
			copy(out, ss[:i])
		}
		if out != nil {
			out[i] = u
		}
	}
	if out == nil {
		return ss
	}
	return out
}

// object is the CEL value of one variable (identity, connection, command or
// request). Field values are computed on first access and cached in slots
// until the activation is returned to its pool.
type object struct {
	typ   *structType
	act   *activation
	slots [maxFields]ref.Val
}

// get returns field i, computing it once.
func (o *object) get(i int) ref.Val {
	if v := o.slots[i]; v != nil {
		return v
	}
	v := o.typ.fields[i].load(o.act)
	o.slots[i] = v
	return v
}

// ConvertToNative implements ref.Val. These objects exist only inside an
// evaluation; they do not convert to Go values.
func (o *object) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to %v", o.typ.name, t)
}

// ConvertToType implements ref.Val: only type(x) is supported.
func (o *object) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return o.typ.celType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", o.typ.name, t.TypeName())
}

// Equal implements ref.Val: an object equals only itself.
func (o *object) Equal(other ref.Val) ref.Val {
	p, ok := other.(*object)
	return types.Bool(ok && p == o)
}

// Type implements ref.Val.
func (o *object) Type() ref.Type { return o.typ.celType }

// Value implements ref.Val. It returns o itself: the FieldType.GetFrom
// closures receive it from the interpreter's field qualifiers.
func (o *object) Value() any { return o }

// Get implements traits.Indexer, for field access the checker could not
// bind statically (dyn(command).kind).
func (o *object) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.NewErr("no such field %v on %s", index, o.typ.name)
	}
	i, ok := o.typ.byName[string(name)]
	if !ok {
		return types.NewErr("no such field '%s' on %s", name, o.typ.name)
	}
	return o.get(i)
}

// IsSet implements traits.FieldTester: every declared field is always set.
func (o *object) IsSet(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.NewErr("no such field %v on %s", field, o.typ.name)
	}
	if _, ok := o.typ.byName[string(name)]; !ok {
		return types.NewErr("no such field '%s' on %s", name, o.typ.name)
	}
	return types.True
}
