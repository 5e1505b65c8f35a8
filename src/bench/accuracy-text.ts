/**
 * Held-out text for `bench accuracy` (different from the SmoothQuant calibration set in
 * src/model/calibration-text.ts): varied passages written for this project, about 450 GPT-2 tokens.
 */
export const ACCURACY_TEXTS: readonly string[] = [
  'And it came to pass, when the men of the city saw the smoke rise from the hills, that they gathered at the gate ' +
    'and spake one to another, saying, Who shall go up for us, and see what is done there? And a young man answered ' +
    'and said, Send me, for I know the way by night.',
  'The lighthouse keeper wrote the same three lines in his log every evening: wind from the west, sea moderate, lamp ' +
    'lit at dusk. On the night the supply boat failed to come, he wrote a fourth line, and then a fifth, and by morning ' +
    'the page was full of questions he had never thought to ask.',
  'import json\n\ndef load(path):\n    with open(path) as f:\n        data = json.load(f)\n    return {k: v for k, v in data.items() if v is not None}\n\n' +
    'if __name__ == "__main__":\n    print(len(load("settings.json")))\n',
  'Table 2 lists the measurements: sample A weighed 14.2 g at 21 °C, sample B 13.8 g, and sample C 15.1 g after drying ' +
    'for 48 hours. The mean was 14.37 g with a standard deviation of 0.66 g, within the 5% tolerance the protocol allows.',
  '"You are late again," said the teacher, not looking up from her desk. "The bus broke down," Tom said. "It broke down ' +
    'yesterday too." "It is a very old bus." The class laughed, and even the teacher smiled as she marked the register.',
  'To reset the router, hold the button on the back for ten seconds until the light blinks orange, wait two minutes, ' +
    'then connect to the network printed on the label and open the setup page in your browser.',
];
