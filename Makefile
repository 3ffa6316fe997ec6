# fmctl: the README's two commands are `make train` and `make test`.
SWIFT ?= swift
THREADS ?= 2

.PHONY: setup build release test bench train clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test

bench: release
	$(SWIFT) run -c release fmctl-bench

train: release
	$(SWIFT) run -c release fmctl train --threads $(THREADS) $(ARGS)

clean:
	rm -rf .build
