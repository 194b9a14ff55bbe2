# Android JVM core (android_demo/core): compile with the Kotlin compiler from npm, test against
# golden vectors the Python code writes. Included at the end of the Makefile (never the default goal).
#
#   make android-core-test     compile core + tests (cached), regenerate vectors when Python changed, run
#   make android-vectors       only the vectors (android_demo/core/build/vectors)
#   make android-kotlinc       only fetch the compiler (npm kotlin-compiler, cached in the build dir)
#
# The app module (android_demo/app) needs the Android SDK + Gradle and is not built here.

ANDROID_CORE := android_demo/core
ANDROID_BUILD := $(ANDROID_CORE)/build
KOTLIN_VERSION := 2.4.20
KOTLIN_HOME := $(ANDROID_BUILD)/kotlinc-cache/node_modules/kotlin-compiler
KOTLINC := $(KOTLIN_HOME)/bin/kotlinc
KOTLIN_STDLIB := $(KOTLIN_HOME)/lib/kotlin-stdlib.jar
M2_REPO := $(HOME)/.m2/repository
JUNIT_JAR := $(firstword $(wildcard $(M2_REPO)/junit/junit/4.13.2/junit-4.13.2.jar) $(wildcard /usr/share/java/junit4.jar))
HAMCREST_JAR := $(firstword $(wildcard $(M2_REPO)/org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.jar) $(wildcard /usr/share/java/hamcrest-core.jar))
JNA_JAR := $(lastword $(sort $(wildcard $(M2_REPO)/net/java/dev/jna/jna/5.*/jna-5.*.jar)) $(wildcard /usr/share/java/jna.jar))
ORT_LIB := $(firstword $(wildcard $(VENV)/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*))
ANDROID_CORE_SRC := $(shell find $(ANDROID_CORE)/src/main $(ANDROID_CORE)/src/test -name '*.kt' 2>/dev/null)
ANDROID_ORT_SRC := $(if $(JNA_JAR),$(shell find $(ANDROID_CORE)/src/testOrt -name '*.kt' 2>/dev/null))
ANDROID_CP := $(JUNIT_JAR):$(HAMCREST_JAR)$(if $(JNA_JAR),:$(JNA_JAR))
ANDROID_CLASSES := $(ANDROID_BUILD)/classes
ANDROID_VECTORS := $(ANDROID_BUILD)/vectors/index.json
ANDROID_VECTOR_DEPS := $(wildcard android_demo/tools/*.py) $(shell find scoligait_edge export -name '*.py' 2>/dev/null) \
	$(wildcard scoligait_edge/assets/models/student.*)

.PHONY: android-core-test android-vectors android-kotlinc android-core-clean

android-kotlinc: $(KOTLINC)

$(KOTLINC):
	@command -v java >/dev/null || { echo "android-core: no java on PATH (install a JDK 17+)"; exit 2; }
	@command -v npm >/dev/null || { echo "android-core: no npm on PATH (needed once for kotlin-compiler@$(KOTLIN_VERSION))"; exit 2; }
	mkdir -p $(ANDROID_BUILD)/kotlinc-cache
	cd $(ANDROID_BUILD)/kotlinc-cache && npm install --no-audit --no-fund --silent kotlin-compiler@$(KOTLIN_VERSION)
	test -x $(KOTLINC)

# One compiler run for the core and its tests (the JNA ONNX Runtime binding only when JNA is there).
$(ANDROID_CLASSES)/.stamp: $(ANDROID_CORE_SRC) $(ANDROID_ORT_SRC) | $(KOTLINC)
	@test -n "$(JUNIT_JAR)" -a -n "$(HAMCREST_JAR)" || { echo "android-core: JUnit 4 + hamcrest-core jars not found (~/.m2 or Debian junit4)"; exit 2; }
	rm -rf $(ANDROID_CLASSES).tmp
	$(KOTLINC) -nowarn -cp $(ANDROID_CP) -d $(ANDROID_CLASSES).tmp $(ANDROID_CORE)/src/main/kotlin $(ANDROID_CORE)/src/test/kotlin \
		$(if $(ANDROID_ORT_SRC),$(ANDROID_CORE)/src/testOrt/kotlin) 2>&1 | grep -v 'unable to find kotlin-stdlib' || true
	test -f $(ANDROID_CLASSES).tmp/org/scoligait/edge/core/TestMain.class
	rm -rf $(ANDROID_CLASSES) && mv $(ANDROID_CLASSES).tmp $(ANDROID_CLASSES) && touch $@

android-vectors: $(ANDROID_VECTORS)

$(ANDROID_VECTORS): $(ANDROID_VECTOR_DEPS) $(STAMP)
	$(BIN)/python android_demo/tools/make_vectors.py --out $(ANDROID_BUILD)/vectors --cache $(ANDROID_BUILD)/cache

android-core-test: setup $(ANDROID_CLASSES)/.stamp $(ANDROID_VECTORS)
	java -cp $(ANDROID_CLASSES):$(KOTLIN_STDLIB):$(ANDROID_CP) -Dscoligait.vectors=$(ANDROID_BUILD)/vectors \
		$(if $(ORT_LIB),-Dscoligait.ortlib=$(abspath $(ORT_LIB))) -Djna.nosys=true \
		org.scoligait.edge.core.TestMain

android-core-clean:
	rm -rf $(ANDROID_CLASSES) $(ANDROID_CLASSES).tmp $(ANDROID_BUILD)/vectors $(ANDROID_BUILD)/vectors.tmp
