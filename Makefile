# The two entry points of the README; plain `go` commands work as well.
.PHONY: demo test build

demo:
	go run ./cmd/gatehouse demo

test:
	go test -count=1 ./...

build:
	go build -o gatehouse ./cmd/gatehouse
