"""The student model: a tiny offline base, LoRA training (PEFT + TRL on CPU, Unsloth on CUDA), and
its evaluation against the base. Heavy libraries (torch, transformers, peft, trl, unsloth, vllm) are
imported inside functions, so the code location loads without the `train` or `gpu` extra."""
