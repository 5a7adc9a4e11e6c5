// The key map of ViClip-InternVid-10M-FLT.pth. ViCLIP.__init__ (Ji4chenLi/t2v-turbo
// viclip/viclip.py) reads it with torch.load(pretrain)['model'] and a strict load_state_dict, so
// the file's `model` dict holds exactly the module's state dict: vision_encoder.*, text_encoder.*
// and temp. vplc's reader flattens the outer dict, so every key arrives as `model.<key>`; the
// builder's names are the module's own.
import type { KeyMap } from '../keymap.ts';
import type { ViClipConfig } from './config.ts';

/** The dict of the .pth the weights sit under. */
export const VICLIP_STATE_PREFIX = 'model.';

export function viclipKeyMap(_config: ViClipConfig): KeyMap {
  return {
    layout: 'ViCLIP state dict',
    blocks: [
      { target: 'vision_encoder.', source: `${VICLIP_STATE_PREFIX}vision_encoder.` },
      { target: 'text_encoder.', source: `${VICLIP_STATE_PREFIX}text_encoder.` },
    ],
    ignore: [{ keys: [`${VICLIP_STATE_PREFIX}temp`], why: "the contrastive temperature of ViCLIP's training loss: the reward is the plain cosine" }],
  };
}

/** The report's component of a source key (`model.vision_encoder...`) or of a parameter name. */
export function viclipComponentOf(key: string): string {
  const name = key.startsWith(VICLIP_STATE_PREFIX) ? key.slice(VICLIP_STATE_PREFIX.length) : key;
  return name.startsWith('vision_encoder.') ? 'visual' : name.startsWith('text_encoder.') ? 'text' : name === 'temp' ? 'scale' : 'other';
}
