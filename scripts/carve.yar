// Magic-byte rules equivalent to banwatch's carver (src/taps/files/carve.rs), for comparison.
rule tflite { strings: $m = "TFL3" condition: $m }
rule zip_local { strings: $m = { 50 4B 03 04 } condition: $m }
rule gzip { strings: $m = { 1F 8B 08 } condition: $m }
rule squashfs { strings: $m = "hsqs" condition: $m }
rule hdf5 { strings: $m = { 89 48 44 46 0D 0A 1A 0A } condition: $m }
rule onnx { strings: $m = { 08 (03|04|05|06|07|08|09|0A) 12 } condition: $m }
