// Package config reads gatehouse's YAML file: strict decode (an unknown key
// is an error naming the key and its line), ${VAR} expansion from the
// environment, defaults, then validation that names the key at fault. It
// hands each component its own Config; nothing downstream parses YAML.
//
// The pipeline is Load -> (decode, expand, defaults, validate) -> *File,
// whose methods build the component configurations. Compilation (CEL
// policies) happens in the components' constructors, whose errors name the
// policy and rule.
package config
