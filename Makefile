# Thin wrapper over CMake. `make run` and `make test` set up a fresh Debian 12 machine first.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=
PORT ?= 9200
DATA ?= ./data

.PHONY: all deps build run test test-unit asan tsan bench clean format

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/kiln --bind 127.0.0.1 --port $(PORT) --data $(DATA)

# Unit tests under ASan+UBSan, then every test (unit, integration, crash, conformance)
# on the normal build. The last lines printed are ctest's own summary.
test: build asan
	@cd $(ASAN_BUILD) && ctest -L unit --output-on-failure -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DKILN_SANITIZE=address $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

tsan: deps
	@cmake -S . -B build-tsan -DKILN_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && ctest -L tsan --output-on-failure

bench: build
	@sh bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-tsan
