"""A tiny model with the *architecture* of OpenCLIP's multilingual models, for tests.

``xlm-roberta-base-ViT-B-32`` cannot be downloaded where the tests run, so this builds its
shape in miniature: the small test model's image tower beside a Hugging Face XLM-RoBERTa
text encoder (1 layer, width 32) with a word-level tokenizer trained here on a few phrases
in three languages. Random text weights: it proves the *path* (loading through the same
Embedder, the export refusing, search through torch), not multilingual quality.
"""

from __future__ import annotations

import json
from pathlib import Path

SHAPES = Path(__file__).resolve().parent / "shapes-clip"
PHRASES = ["a red circle", "un cercle rouge", "ein roter Kreis", "a blue square",
           "un carré bleu", "ein blaues Quadrat", "a photo", "une photo", "ein Foto",
           "a picture", "an image", "a photo of something", "a star", "une étoile"]


def build_tiny_multilingual(folder: Path) -> str:
    """Write the model into ``folder`` (open_clip's local layout); returns its spec."""
    import torch
    from open_clip.model import CustomTextCLIP
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig

    from photoclip.core.embedder import _adapters_for, _open_clip

    # photoclip may have imported open_clip without its Hugging Face adapter in this process.
    _adapters_for(_open_clip(), None)
    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(PHRASES, trainers.WordLevelTrainer(
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                            pad_token="<pad>", unk_token="<unk>").save_pretrained(folder)
    # open_clip reads a local model's tokenizer from the model folder, and the text
    # encoder's config from where hf_model_name points: the same folder here.
    XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=40,
                     pad_token_id=1, bos_token_id=0, eos_token_id=2).save_pretrained(folder)
    base = json.loads((SHAPES / "open_clip_config.json").read_text())
    model_cfg = {"embed_dim": 64, "vision_cfg": base["model_cfg"]["vision_cfg"],
                 "text_cfg": {"hf_model_name": str(folder), "hf_tokenizer_name": str(folder),
                              "hf_pooler_type": "mean_pooler", "hf_proj_type": "linear",
                              "context_length": 16}}
    (folder / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": model_cfg, "preprocess_cfg": base["preprocess_cfg"]}))
    torch.manual_seed(0)
    model = CustomTextCLIP(**{**model_cfg, "text_cfg": {**model_cfg["text_cfg"],
                                                        "hf_model_pretrained": False}})
    # The small model's trained image tower, so photos embed as they do in other tests.
    from safetensors.torch import load_file

    trained = load_file(str(SHAPES / "open_clip_model.safetensors"))
    model.visual.load_state_dict({k.removeprefix("visual."): v for k, v in trained.items()
                                  if k.startswith("visual.")})
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    return f"local-dir:{folder}"
