# samplesort — the two set-up commands are `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
DATA    ?= work-data
STAMP   := $(VENV)/.installed

.PHONY: install demo test lint bench bench-other-sources corpus corpus-drumsynth corpus-soundfont model evaluate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: install, generate a small drum library, scan it into a catalog with the bundled model,
## and show (--dry-run) how organize would file it
## (exit 3 is expected: the demo library holds one broken file on purpose)
demo: $(STAMP)
	rm -rf demo-library demo-catalog.sqlite3*
	$(BIN)/python -m fixtures.synth demo-library
	$(BIN)/samplesort scan demo-library --catalog demo-catalog.sqlite3 || test $$? -eq 3
	$(BIN)/samplesort ls --catalog demo-catalog.sqlite3
	$(BIN)/samplesort organize demo-library --into demo-library/Sorted --catalog demo-catalog.sqlite3 --dry-run || test $$? -eq 3

## test: the offline test suite (seconds)
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check samplesort tests fixtures bench
	$(BIN)/ruff format --check samplesort tests fixtures bench

## packages: the Debian packages that hold the real drum samples
packages:
	@if [ ! -f /usr/share/hydrogen/data/drumkits/GMRockKit/drumkit.xml ] || [ ! -d /usr/share/lmms/samples/drums ]; then \
	  apt-get update -qq && apt-get install -y -qq hydrogen-drumkits hydrogen-data lmms-common; fi

## corpus: labeled trees built from the packages
corpus: $(STAMP) packages
	$(BIN)/samplesort corpus hydrogen /usr/share/hydrogen/data/drumkits $(DATA)/corpus
	$(BIN)/samplesort corpus lmms /usr/share/lmms/samples $(DATA)/corpus

## model: rebuild the bundled default model, reproducibly
model: corpus
	$(BIN)/samplesort train $(DATA)/corpus --out samplesort/models/default.npz --algorithm extra --augment 8 --trees 100 --seed 0 || test $$? -eq 3  # 3: some corpus files unreadable (reported)

## corpus-drumsynth: LMMS's DrumSynth presets rendered into the corpus (opt-in: not used by
## `make model`; see README for what it measured)
corpus-drumsynth: corpus
	$(BIN)/samplesort corpus drumsynth /usr/share/lmms/samples/drumsynth $(DATA)/corpus-drumsynth

## corpus-soundfont: the drum kits of Debian's General MIDI soundfonts rendered by fluidsynth,
## a cross-source check set (never trained on; see README "What generalises")
corpus-soundfont: $(STAMP)
	@if ! command -v fluidsynth >/dev/null || [ ! -f /usr/share/sounds/sf2/TimGM6mb.sf2 ]; then \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends fluidsynth \
	  fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont; fi
	$(BIN)/python -m bench.soundfonts $(DATA)/corpus-soundfont

## bench-other-sources: the bundled model scored on the two cross-source check sets (never
## trained on; README "What generalises")
bench-other-sources: corpus-soundfont corpus-drumsynth
	$(BIN)/samplesort evaluate $(DATA)/corpus-soundfont --model samplesort/models/default.npz || test $$? -eq 3
	$(BIN)/samplesort evaluate $(DATA)/corpus-drumsynth --model samplesort/models/default.npz || test $$? -eq 3

## bench: quality (leave-one-kit-out) and speed figures
bench: corpus
	$(BIN)/python -m bench.run $(DATA)/corpus
	$(BIN)/python -m bench.scan $(DATA)/corpus
	$(BIN)/python -m bench.cost $(DATA)/corpus
	$(BIN)/python -m bench.organize $(DATA)/corpus
	$(BIN)/python -m bench.watch --files 500 --corpus $(DATA)/corpus
	$(BIN)/python -m bench.tracks $(DATA)/corpus

clean:
	rm -rf $(DATA) demo-library build dist *.egg-info

## track-model: rebuild the bundled full-track model (samplesort/models/tracks.npz), reproducibly:
## 40 grooves per corpus kit, hits cut by the onset detector, thresholds and gates chosen with
## whole kits held out (see the README section "Transcribe a drum loop")
track-model: corpus
	$(BIN)/python -m samplesort.tracktrain $(DATA)/corpus --out samplesort/models/tracks.npz --grooves-per-kit 40 --seed 0

## grooves: 56 grooves rendered with the corpus kits (WAV + time_s,class CSV), for evaluate-tracks
## (see the README section "Transcribe a drum loop")
grooves: corpus
	rm -rf $(DATA)/grooves  # its own output: the generator never writes over a groove set
	$(BIN)/python -m samplesort.grooves $(DATA)/corpus $(DATA)/grooves --n 56 --seed 0

## bench-tracks: full-track quality with whole kits held out, the librosa onset baseline, speed
bench-tracks: corpus
	$(BIN)/python -m bench.tracks $(DATA)/corpus

## bench-tracks-other-sources: the bundled track model on grooves rendered with the GM soundfont
## kits (never trained on; 8 grooves per kit), a cross-source check for full-track mode
bench-tracks-other-sources: corpus-soundfont
	$(BIN)/python -m bench.tracks_other $(DATA)/corpus-soundfont

.PHONY: track-model grooves bench-tracks bench-tracks-other-sources
