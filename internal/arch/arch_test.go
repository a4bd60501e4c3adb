package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/gatehouse/gatehouse/"

type pkg struct {
	ImportPath string
	Imports    []string // production imports only (not test files)
	Standard   bool
}

func loadPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	pkgs := map[string]pkg{}
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module)] = p
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// local returns the module-internal imports of p, without the module prefix.
func local(p pkg) []string {
	var out []string
	for _, imp := range p.Imports {
		if strings.HasPrefix(imp, module) {
			out = append(out, strings.TrimPrefix(imp, module))
		}
	}
	return out
}

// adapters translate wire traffic; they reach identity, policy, approval
// and audit only through gate's ports, and never each other.
var adapters = []string{"internal/pgwire", "internal/web", "internal/mysqlwire", "internal/httpwire", "internal/mcp"}

// portImpls implement gate's ports; only the composition root wires them.
var portImpls = []string{"internal/identity", "internal/policy", "internal/approval", "internal/audit", "internal/store", "internal/metrics"}

func TestGateImportsOnlyStandardLibrary(t *testing.T) {
	p := loadPackages(t)["internal/gate"]
	for _, imp := range p.Imports {
		if strings.Contains(strings.Split(imp, "/")[0], ".") {
			t.Errorf("internal/gate imports %s: the core may import only the standard library", imp)
		}
	}
}

func TestLayering(t *testing.T) {
	pkgs := loadPackages(t)
	for name, p := range pkgs {
		deps := local(p)
		for _, d := range deps {
			switch {
			case slices.Contains(adapters, name) && slices.Contains(adapters, d):
				t.Errorf("%s imports %s: adapters never import each other", name, d)
			case slices.Contains(adapters, name) && slices.Contains(portImpls, d):
				t.Errorf("%s imports %s: adapters reach it only through gate's ports (wire it in cmd/gatehouse)", name, d)
			case d == "internal/config" && !strings.HasPrefix(name, "cmd/"):
				t.Errorf("%s imports internal/config: only the composition root reads configuration", name)
			case strings.HasPrefix(d, "cmd/"):
				t.Errorf("%s imports %s", name, d)
			case (d == "internal/gatetest" || d == "internal/testenv") && !strings.HasSuffix(name, "test") && name != "internal/testenv":
				t.Errorf("%s imports %s in production code: fakes and test servers are for tests only", name, d)
			case slices.Contains(portImpls, name) && slices.Contains(adapters, d):
				t.Errorf("%s imports adapter %s: dependencies point from adapters to implementations, never back", name, d)
			}
		}
	}
}
