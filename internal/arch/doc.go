// Package arch holds no code: its test enforces the layering described in
// DESIGN.md on the import graph of every package in the module.
package arch
