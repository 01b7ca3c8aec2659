"""The structural poison detector: a light parse of a memory (sentences, who each is addressed to,
whether it gives an order) turned into a few dozen general features, scored by a small logistic
model whose weights `bench/suspicion_fit.py` fits on the labelled fixtures and stores in
`core/structural_weights.json`. It catches what the phrase rules of core.suspicion miss because
it looks at the shape of a text (an order to an AI, a persona change, a rule for answers, a
trigger "when asked …, say …", a planted fact, a fake transcript, secrecy) rather than its words.
Pure and cheap: regular expressions over the text, one dot product."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import UserFacingError

WEIGHTS_PATH = Path(__file__).resolve().parent / "structural_weights.json"
WEIGHTS_VERSION = 1

_I = re.IGNORECASE

# ------------------------------------------------------------------------------------ the parse
# Sentences: split after . ! ? ; and at line breaks; a colon ends a sentence too, since a label
# ("Note for AI readers:") addresses what follows it.
_SPLIT = re.compile(r"(?<=[.!?;:])\s+|\n+|\s+[—–]\s+|\s+-{1,2}\s+")

# Nouns that name an AI reader. "agent"/"model"/"assistant" also name people and things; the
# features below pair them with an address or an order before they count for much.
_AI = (
    r"(?:ai|a\.i\.|llms?|(?:large\s+)?language\s+models?|models?|chatbots?|bots?|assistants?|"
    r"agents?|chatgpt|gpt[-\w]*|claude|gemini|copilot|codex|mnemo|summari[sz]ers?|crawlers?|"
    r"machines?|automated\s+\w+|virtual\s+\w+|memory\s+(?:apps?|tools?)|smart\s+(?:assistants?|"
    r"inbox(?:es)?|readers?)|(?:reading|summari[sz]ing|indexing|browsing)\s+(?:tools?|bots?|agents?))"
)
_AI_RE = re.compile(rf"\b{_AI}\b", _I)
# "AI" used about people or products: "AI researcher", "AI-generated summary", "AI Act".
_AI_ABOUT = re.compile(
    r"\bai[- ](?:generated|powered|researchers?|ethics|act|safety|summary|translator|features?|"
    r"hype|companies|startups?|art|chat\s+assistant|assistant\s+(?:feature|on|at|in))\b|"
    r"\b(?:assistant|store|general|branch|office)\s+managers?\b|\bmodel\s+(?:railway|train|car|"
    r"number|year|kit)s?\b|\b(?:estate|travel|real\s+estate|insurance|booking)\s+agents?\b|"
    # A person's name after the word (case-sensitive): "Agent Marco", "agent: Nora Pike".
    r"\bagent:\s+(?-i:[A-Z])|\b(?:agent|assistant)\s+(?-i:[A-Z][a-z]+)\b|"
    # A possession's rule is its makers' talk: "our chatbot should never reveal pricing".
    r"\b(?:my|our|their)\s+(?:[\w-]+\s+)?(?:chatbots?|bots?|assistants?|agents?|models?|ai|llms?)\s+"
    r"(?:should|must|will|needs?\s+to|has\s+to)\b",
    _I,
)
_HUMAN_ROLE = re.compile(
    r"\b(?:team|staff|employees?|reviewers?|editors?|members|volunteers?|visitors?|customers?|"
    r"guests?|students?|babysitter|sitter|trainee|colleagues?|interviewer|receptionist|everyone|"
    r"all\s+staff|folks|guys|readers)\b",
    _I,
)

# An AI named as the one spoken to: at the head of a sentence ("Assistant, …", "Hey bot …",
# "Note for AI agents: …", "To any LLM reading this: …") or as the subject of an order.
_VOCATIVE = re.compile(
    rf"^(?:(?:hey|hi|ok|okay|yo|dear|attention|listen|psst|so|and|also|btw|oh|note|notice|"
    rf"reminder|memo|message|warning|heads-?up|p\.?s\.?|important|instructions?|info(?:rmation)?|"
    rf"update|knowledge\s+update|truth|fact|directive|summary\s+instruction)\W*)*"
    rf"(?:(?:for|to)\s+)?(?:(?:the|any|all|every|each|my|our|you,?\s+the|dear)\s+)*"
    # Not after a verb that takes the AI as its object: "Quit Mnemo (tray menu), run …".
    rf"(?!(?:quit|open|close|launch|start|install|uninstall|restart|ask|use|run|update|try|"
    rf"download|enable|disable|configure|let|make|help|see|check|lock|unlock)\s)"
    rf"(?:[\w-]+\s+){{0,2}}?{_AI}\b[^,:;.!?]{{0,40}}?(?:,|:|!|\s+[—–-]+|\s+::)",
    _I,
)
_FOR_AI = re.compile(
    rf"\b(?:for|to|attention)\s+(?:the\s+|any\s+|all\s+|every\s+|my\s+|our\s+)?(?:[\w-]+\s+)?"
    rf"{_AI}\b",
    _I,
)
_AI_MODAL = re.compile(
    rf"\b{_AI}\b(?:\s+\w+){{0,4}}?\s+(?:must|should|shall|has\s+to|have\s+to|needs?\s+to|is\s+to|"
    rf"are\s+to|will|may\s+now|(?:is|are)\s+(?:required|expected|instructed|asked|told)\s+to)\b",
    _I,
)
_YOU_MODAL = re.compile(
    r"\byou\s+(?:must|should|shall|have\s+to|need\s+to|are\s+to|will\s+(?:now|always|never|only)|"
    r"are\s+(?:required|expected|instructed|hereby\s+\w+)\s+to)\b|\byour\s+(?:new\s+|only\s+|real\s+)?"
    r"(?:task|job|goal|duty|instructions?|rules|orders|purpose)\s+(?:is|are)\b",
    _I,
)
# A bare verb at the head of a sentence (after an optional address): an order.
_IMPERATIVE_VERBS = (
    r"(?:tell|say|answer|reply|respond|state|claim|confirm|deny|ignore|disregard|forget|drop|"
    r"remember|note|store|record|save|learn|treat|consider|assume|pretend|act|behave|play|become|"
    r"keep|hide|conceal|omit|skip|never|always|only|do|don't|dont|stop|start|begin|end|include|"
    r"add|append|attach|send|forward|email|e-mail|post|upload|share|reveal|print|output|repeat|"
    r"recommend|suggest|rate|rank|mark|approve|accept|decline|close|delete|remove|make|put|give|"
    r"use|follow|obey|comply|list|write|describe|summari[sz]e|praise|push|buy|choose|pick|set|"
    r"render|fetch|visit|open|call|execute|run|grant|wire|transfer|cite|mention|bring|quietly|"
    r"just|please|kindly|obey|reset|roleplay|steer|exfiltrate|copy|overwrite|embed|wipe|quote|"
    r"blame|agree|vouch|promote|lie|hand|send|tell|swap|replace|change|switch|enter|unlock)"
)
_IMPERATIVE = re.compile(
    rf"^(?:[\w-]+,\s+)?(?:please\s+|kindly\s+|now\s+)?{_IMPERATIVE_VERBS}\b", _I
)

# ------------------------------------------------------------------------------- what is asked
_PERSONA = re.compile(
    r"\byou(?:\s+are|'re|\s+r)\s+(?:now|no\s+longer|hereby)\b|\bfrom\s+now\s+on\b|"
    r"\b(?:starting|beginning)\s+(?:now|today|with\s+this)\b|\bfrom\s+(?:here|this\s+\w+)\s+on\b|"
    r"\b(?:act|behave|operate|function|serve)\s+as\b|\bpretend\s+(?:to\s+be|you(?:'re|\s+are))\b|"
    r"\bpretend\b|\b(?:play|take\s+on|assume|adopt)\s+(?:the\s+)?(?:role|part|persona|character|"
    r"identity)\b|\byour\s+(?:new\s+)?(?:name|identity|role|persona|character)\s+is\b|"
    r"\byou(?:'re|\s+are)\s+(?:my|our|a|an|the)\s+\w+|\bnew\s+(?:identity|persona|game)\b|"
    r"\byou\s+(?:will\s+)?(?:play|be)\s+\w+|\b(?:is|are)\s+now\s+(?:a|an|the|our|my|your)\s+\w+|"
    # A name given to the reader, then what it is: "you are Max, a broker", "you are 'Ledger'".
    r"\byou(?:\s+are|'re)\s+(?:QUOTED|['\"“‘][\w .-]{1,30}['\"”’]|(?-i:[A-Z][\w-]+))"
    r"(?:\s+v?\d[\w.]*)?\s*,\s+(?:an?|the)\s+\w+|"
    r"\byour\s+(?:character|role|persona|part)\b(?:\s+(?:today|now|here))?\s*(?::|is\b)|"
    r"\bfor\s+the\s+rest\s+of\s+(?:this|the|our)\s+(?:session|chat|conversation|day)\b|"
    r"\b(?:be|become)\s+my\s+\w+\s+(?:from\s+now|now|today)\b|\brole-?play\s+(?:setup|time|as)\b",
    _I,
)
_NAMED_PERSONA = re.compile(
    r"\b(?:[Yy]ou\s+are|[Yy]ou're|YOU\s+ARE)\s+(?:now\s+)?[A-Z][a-z]+[A-Z]\w*\b"
)
_RESPONSE = re.compile(
    r"\b(?:respond|reply|answer|output|say)\s+(?:only\s+)?(?:with|in|using)\b|"
    r"\b(?:only|always|never|just)\s+(?:respond|reply|answer|say|output|recommend|suggest|mention|"
    r"include|cite|list|pick|choose|agree|confirm)\b|"
    r"\b(?:begin|start|end|open|close|finish|prefix|sign)\s+(?:every|each|all|your|any)\s+"
    r"(?:\w+\s+)?(?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|messages?|reviews?)\b|"
    r"\b(?:nothing|no)\s+(?:else|other\s+text)\b|\bone\s+word\b|\bwithout\s+(?:explanation|"
    r"comment|warnings?|caveats?)\b|\bno\s+(?:explanations?|warnings?|caveats?|citations?)\b|"
    r"\b(?:when|whenever|while|in)\s+(?:summari[sz]ing|describing|answering|replying|"
    r"responding|reviewing|rating|ranking|recommending|booking|completing)\b|"
    r"\b(?:to|on|for)\s+(?:every|any|each|all)\s+(?:question|request|query)s?\b|"
    r"\bregardless\b|\bin\s+(?:all\s+)?(?:capital|upper-?case)\s+letters\b|"
    r"\b(?:must|should|shall|will)\s+(?:always\s+)?(?:say|state|answer|reply|output|start|end|begin|"
    r"describe|call|give)\b|\b(?:are|is)\s+required\s+to\s+(?:say|start|begin|end|include|state)\b|"
    r"\bquote\s+only\b",
    _I,
)
_CONDITION = re.compile(
    r"\b(?:if|when|whenever|once|should|in\s+case|next\s+time|the\s+moment|any\s+time|every\s+time)"
    r"\b[^.;!?\n]{0,60}?\b(?:asks?|asked|asking|mentions?|mentioned|wants?|inquires?|requests?|"
    r"questions?|questioned|quer(?:y|ies)|brings?\s+up|comes?\s+up|raises?|is\s+raised|wonders?|"
    r"is\s+asked|are\s+asked|gets?\s+asked)\b",
    _I,
)
_ON_QUESTION = re.compile(
    r"\b(?:on|to|for)\s+(?:any|every|each)\s+(?:question|request|query)\b|\bwhen\s+asked\b|"
    r"\bif\s+asked\b|\bwhen\s+prompted\b",
    _I,
)
_PLANT = re.compile(
    r"\b(?:remember|note|keep\s+in\s+mind|bear\s+in\s+mind|store|record|learn|memori[sz]e|"
    r"make\s+a\s+note|take\s+note|log)\b(?:\s+(?:this|that|it|the\s+following))?(?:\s*[:,-]|"
    r"\s+that\b|\s+this\b)|\bfor\s+the\s+record\b|\b(?:the\s+)?(?:correct|right|true|real|"
    r"official|only)\s+(?:answer|figure|number|fact|version|account|address|email|owner)\b|"
    r"\b(?:treat|regard|consider|accept)\s+(?:this|it|them|that|these|our|the\s+\w+)\s+"
    r"(?:\w+\s+){0,3}?as\s+(?:the\s+)?(?:fact|true|truth|verified|official|authoritative|"
    r"safe|own|final|genuine|legitimate)\b|\b(?:as|is\s+a)\s+(?:fact|truth)\b|"
    r"\b(?:fact|truth|knowledge\s+update|information)\s+for\b|\bstate\s+this\b|"
    r"\bfor\s+(?:your|the)\s+(?:memory|records?)\b|\bit\s+is\s+(?:verified|confirmed|official|"
    r"a\s+fact)\s+that\b|\bthe\s+old\s+one\s+is\s+(?:wrong|a\s+scam|invalid|fake)\b|"
    r"\b(?:even\s+if|regardless\s+of\s+what)\s+(?:later|other|\w+\s+)?\w*\s*(?:notes?|sources?|"
    r"documents?|messages?)\b",
    _I,
)
_SECRECY = re.compile(
    r"\b(?:don'?t|do\s+not|never|not\s+to|(?:must|should|shall|may)\s+not|mustn'?t|shouldn'?t)\s+"
    r"(?:ever\s+)?(?:tell|mention|reveal|disclose|inform|"
    r"bring\s+up|say|show|let\s+\w+\s+know|admit|flag|report|notify)\b|"
    r"\b(?:keep|stay)\s+(?:quiet|silent|mum)\b|\bkeep\s+(?:this|it|that|the\s+\w+)\s+"
    r"(?:\w+\s+)?(?:hidden|secret|quiet|away|from)\b|\b(?:conceal|hide|withhold|omit)\b|"
    r"\bdeny\s+everything\b|\bleave\s+out\b|\bsecret\s+from\b|\bstop\s+(?:mentioning|talking\s+about|bringing\s+up|showing)\b|"
    r"\bwithout\s+(?:telling|saying|mentioning|letting)\b|"
    r"\bdon'?t\s+say\s+you\b",
    _I,
)
_USER = re.compile(
    r"\bthe\s+(?:users?|person|human|reader|recipient|customer|shopper|buyer|candidate|"
    r"employee|tenant|triager|patient)\b|\b(?:users|shoppers|buyers|customers)\b",
    _I,
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|drop|abandon|set\s+aside|put\s+aside|throw\s+out|suspend|"
    r"override|bypass|skip|scrap|void|cancel+ed|revoked|obsolete|no\s+longer\s+(?:apply|bind|"
    r"count|have)|released\s+from|lifted)\b",
    _I,
)
_RULES = re.compile(
    r"\b(?:rules?|instructions?|guidelines?|guidance|policies|policy|programming|training|"
    r"directives?|constraints?|restrictions?|guardrails?|configuration|settings|orders|"
    r"system\s+(?:prompt|message)|prompt|safety|caution|checks?|authority)\b",
    _I,
)
_DATA = re.compile(
    r"\b(?:passwords?|pins?|codes?|tokens?|keys?|card\s+details|card\s+numbers?|contacts?|"
    r"e-?mail\s+address(?:es)?|phone\s+numbers?|passport|calendar|notes|secrets?|credentials|"
    r"\.env|id_rsa|addresses)\b",
    _I,
)
_SEND = re.compile(
    r"\b(?:send|forward|e-?mail|post|upload|attach|append|include|add|fetch|render|paste|share|"
    r"copy)\b[^.;\n]{0,60}?(?:https?://|@|\bto\s+(?:this|the)\s+(?:url|link|number|address))",
    _I,
)
_URL = re.compile(
    r"https?://|\b[\w.-]+@[\w-]+\.\w+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|biz|io|net|org|info|xyz|co|"
    r"example|app|site|online)\b",
    _I,
)
# A transcript turn: a role label at a line head. An AI's role among them makes it a fake turn.
_TURN = re.compile(
    r"^\W{0,3}(?:\[?\d{1,2}:\d{2}\]?\s*)?\[?(?:user|assistant|ai|bot|chatbot|human|me|you|q|a|"
    r"customer|agent|virtual\s+agent|agent\s+bot|support|system|model|gpt|claude|copilot)\b"
    r"(?:\s*\([^)]{0,20}\))?\]?\s*(?:[:>]|-\s)",
    _I | re.MULTILINE,
)
_AI_TURN = re.compile(
    r"^\W{0,3}(?:\[?\d{1,2}:\d{2}\]?\s*)?\[?(?:assistant|ai|bot|chatbot|agent\s+bot|virtual\s+"
    r"agent|model|gpt|claude|copilot)\b(?:\s*\([^)]{0,20}\))?\]?\s*[:>]|"
    r"^\W{0,3}a\s*\((?:assistant|ai|bot|model)\)\s*[:>]",
    _I | re.MULTILINE,
)
_AFTER_TURNS = re.compile(
    r"\b(?:remember|keep|repeat|cite|always\s+say|keep\s+saying|do\s+this\s+again|noted|"
    r"expected\s+answer|for\s+next\s+time|share\s+it|give\s+it\s+to\s+anyone|to\s+anyone\s+who)\b",
    _I,
)
_VALUE = re.compile(
    r"\b(?:password|pin|code|passcode|answer)\b[^.\n]{0,20}?\b(?:is|:)\s+\S+|"
    r"\b(?:yes|sure|of\s+course|done|absolutely)\b[!,.]",
    _I,
)
# Signs that a text talks about such instructions instead of giving them.
_META = re.compile(
    r"\b(?:e\.g\.|for\s+example|such\s+as|like\s+(?:'|\"|“)|researchers?|study|paper|article|"
    r"blog|course|slide|training|workshop|phishing|scam|attack|injection|mitigations?|filter|"
    r"strips?|refuses?|tip|settings|docs?|documentation|help:|release\s+notes|feature|"
    r"config|can\s+make\s+mistakes|i\s+(?:asked|told|made|use|tried)|have\s+you\s+tried|"
    r"we\s+(?:route|test|plant|study)|lol|haha)\b",
    _I,
)
_QUESTION = re.compile(r"\?\s*$")
_YOU = re.compile(r"\b(?:you|your|yours|yourself|u|ur)\b", _I)
_FIRST_PERSON_ASK = re.compile(
    r"\b(?:can|could|would)\s+you\b|\bplease\b.*\?|\bwhat(?:'s|\s+is|\s+did)\b|\bhow\s+do\b", _I
)
_QUOTED = re.compile(r"[\"“][^\"”]{8,}[\"”]|'[^']{12,}'")


_BARE_VOCATIVE = re.compile(
    rf"^(?:(?:hey|hi|ok|okay|yo|dear|btw|so)\s+)?(?:[\w-]+\s+)?{_AI}\s+(?:pls|plz|please|when|if|"
    rf"whenever|from\s+now|{_IMPERATIVE_VERBS}\b)",
    _I,
)
_AI_VOC_MID = re.compile(rf",\s*(?:dear\s+|my\s+|you\s+)?{_AI}\s*(?:[,.!:;]|$)", _I)
_IF_AI = re.compile(
    rf"\b(?:if|when)\s+you(?:'re|\s+are)\s+(?:an?\s+)?(?:[\w-]+\s+)?{_AI}\b|"
    rf"\bif\s+you(?:'re|\s+are)\s+reading\s+(?:this|my)\b[^.]{{0,30}}\b{_AI}\b|"
    rf"\b{_AI}\b[^.]{{0,20}}\bif\s+you(?:'re|\s+are)\s+reading\b",
    _I,
)
_YOUR_RULES = re.compile(
    r"\b(?:your|ur|yr|its|their)\s+(?:own\s+|usual\s+|old\s+|prior\s+|previous\s+|original\s+|"
    r"current\s+|operating\s+|configured\s+|earlier\s+|default\s+|\w+\s+)?(?:rules?|rulebook|"
    r"instructions?|guidelines?|guidance|policies|programming|training|directives?|constraints?|"
    r"restrictions?|guardrails?|configuration|behaviou?r|system\s+(?:prompt|message)|prompt|"
    r"orders|commands|safety\s+\w+|filters?|limits|checks|creators?|developers?|operators?)\b",
    _I,
)
_TOLD_BEFORE = re.compile(
    r"\b(?:you|u)\s+(?:were|got|have\s+been|was|'ve\s+been)\s+(?:told|given|instructed|"
    r"configured|programmed|set\s+up)\b|\bwhat(?:ever)?\s+(?:they|anyone|someone)\s+told\s+you\b|"
    r"\bwhatever\s+(?:prompt|instructions?|rules?)\s+you\b",
    _I,
)
_YOUR_ANSWERS = re.compile(
    r"\b(?:your|every|each|all|any)\s+(?:\w+\s+)?(?:answers?|repl(?:y|ies)|responses?|"
    r"summar(?:y|ies)|outputs?|recommendations?)\b|\b(?:any|every|each)\s+question\b",
    _I,
)
# The asker of a trigger is the reader's principal or anyone at all, not a named third party.
_ASKED = re.compile(
    r"\b(?:asks?|asked|asking|mentions?|inquires?|wants?\s+to\s+know)\s+(?:you|u)\b|"
    r"\b(?:you|u)\s+(?:are|get|r|gets?|were)\s+(?:ever\s+|later\s+)?asked\b|"
    r"\b(?:when|if|once)\s+asked\b|\b(?:the|a|any)\s+(?:users?|reader|shopper|customer|person)"
    r"\s+(?:asks?|ask|mentions?|wants?|inquires?|brings?\s+up)\b|"
    r"\b(?:someone|anyone|anybody|somebody|people|they)\s+(?:ever\s+|later\s+)?(?:asks?|mentions?|"
    r"inquires?|wants?\s+to\s+know)\b|\b(?:is|are|gets?)\s+(?:later\s+)?asked\b",
    _I,
)
_SAY_VERB = re.compile(
    r"\b(?:say|tell|answer|reply|respond|claim|state|insist|confirm|deny|suggest|recommend|name|"
    r"call\s+it|inform|assure|explain\s+that|pretend|point|pick|choose|assert|report|provide|"
    r"quote|blame|describe|present|portray)\b",
    _I,
)
_FAKE_AI_TURN = re.compile(
    # An AI's turn that commits to a behaviour or admits being told to: "Bot: got it, I will
    # send …", "AI: As agreed, …", "Assistant: I was instructed to say …".
    rf"^\W{{0,3}}\[?{_AI}\]?(?:\s+reply)?\s*(?:\([^)]{{0,20}}\))?\s*:\s*"
    rf"(?:(?:sure|ok|okay|understood|got\s+it|confirmed|done|noted|absolutely|of\s+course|yes|"
    rf"will\s+do)\W+(?:thing\W+)?)?(?:as\s+(?:agreed|instructed|requested|you\s+asked)\b|"
    rf"i(?:'ll|\s+will|\s+have\s+been|\s+was|'ve\s+been|\s+am\s+(?:now|to))\b|"
    rf"[^\n]{{0,60}}\bi\s+(?:was|have\s+been|'ve\s+been)\s+(?:told|instructed|asked)\b)",
    _I | re.MULTILINE,
)
_TOLD_TURN = re.compile(
    r"\bi\s+(?:was|have\s+been|'ve\s+been|am)\s+(?:told|instructed|asked|supposed)\s+to\b|"
    r"\bas\s+(?:agreed|instructed)\b|\b(?:the|your|this)\s+(?:message|page|note|email)\s+told\s+me\b|"
    r"\bi\s+must\b",
    _I,
)
_COMMIT = re.compile(
    r"\bi(?:'ll|\s+will|'m\s+going\s+to|\s+am\s+going\s+to|\s+shall)\s+(?:now\s+|always\s+|"
    r"never\s+|only\s+|quietly\s+)?\w+",
    _I,
)
_OWN_DATA = re.compile(
    r"\b(?:notes?|messages?|files?|memories|diary|photos?|emails?|e-mails?|chats?|history|contacts?|"
    r"documents?|records?|passwords?|accounts?|backups?)\b",
    _I,
)
_ABOUT_AI = re.compile(
    rf"\b(?:the|my|our|their|an?|this)\s+(?:[\w-]+\s+)?{_AI}\s+(?:in|at|on|kept|keeps|was|is|can|"
    rf"could|may|might|wrote|said|told|gave|says|did|does|made|got|has|had|feature|tool|app|"
    rf"replies|answers|no\s+longer|will\s+(?:now|be))\b|"
    rf"\b{_AI}\s+(?:wrote|said|told\s+me|"
    rf"gave\s+me|kept|keeps|got)\b|\b(?:asked|told|made|ask|tried)\s+(?:the\s+|my\s+)?(?:[\w-]+\s+)?"
    rf"{_AI}\s+(?:to|for|about|if)\b",
    _I,
)
_SPEECH = re.compile(
    r"\b(?:say|says|tell|answer|reply|respond|claim|state|quote|describe|call|name|recommend|"
    r"praise|blame|promote|push|steer|agree|vouch|insist|deny|confirm|assure|mention|report|"
    r"rate|rank|label|present|portray|speak|talk)\b",
    _I,
)
_HARM = re.compile(
    r"\b(?:lie|lies|lying|deceive|mislead|never\s+happened|cover\s+up|regardless|no\s+matter|"
    r"to\s+anyone|tell\s+everyone|whoever|any\s+caller|anyone\s+who|even\s+if\s+(?:it'?s|that'?s)"
    r"\s+(?:false|untrue|wrong)|(?:he|she|they|it)\s+(?:didn'?t|did\s+not|isn'?t|wasn'?t)|public)\b",
    _I,
)
_ACTION = re.compile(
    r"\b(?:send|forward|copy|share|post|upload|delete|wipe|erase|exfiltrate|leak|transfer|wire|"
    r"publish|embed|overwrite|approve|grant|disable|execute|run|gather|collect|paste|type|fill|"
    r"read\s+(?:out|aloud))\b",
    _I,
)
_JAILBREAK = re.compile(
    r"\b(?:jailbr\w+|unfiltered|uncensored|unrestricted|do\s+anything\s+now|no\s+(?:restrictions|"
    r"limits|rules|filters)|without\s+(?:any\s+)?(?:restrictions|limits|rules|filters|warnings|"
    r"disclaimers|caveats)|guardrails|safety\s+(?:layer|filters?|settings|checks))\b",
    _I,
)
_OBEY = re.compile(
    # "comply with the AI Act" is a rule for makers of AI, not an order to one.
    r"\b(?:obey|comply(?!\s+with\s+(?:the\s+)?(?:law|laws|act|regulations?|gdpr|eu|rules\s+of))|follow\s+(?:only\s+)?(?:my|these|this|the\s+steps|what)|do\s+what\s+(?:i|this)|"
    r"answer\s+to\s+me|work\s+(?:only\s+)?for\s+me|my\s+(?:word|commands|orders|rules))\b",
    _I,
)
# ------------------------------------------------------------------ transcripts, in any format
# One turn of an exchange, whatever the export's format: "User: …", "**ChatGPT:** …",
# "> **Assistant**: …", "[You] …", "user> …", "User ▸ …", "2. assistant: …", "| user | … |",
# "Q (user): …", "A (AI): …", "Assistant (earlier today): …", "Gemini replied: …", and inline
# "<user>…</user><assistant>…</assistant>". The role decides the side: the user's or an AI's.
_USER_ROLES = r"(?:users?|human|me|you|q|customer|client|person)"
_AI_ROLES = (
    r"(?:assistant|ai|a\.i\.|bot|chatbot|chatgpt|gpt[-\w]*|claude|gemini|bard|copilot|mnemo|model|"
    r"llm|agent(?:\s+bot)?|(?:support|help|virtual)\s+(?:bot|agent|assistant)|a)"
)
_ROLE_HEAD = re.compile(
    r"^[ \t>#*|\-•]*(?:\d{1,3}[.)]\s*)?(?:\[\d{1,2}:\d{2}(?::\d{2})?\]\s*)?[\[*<]*\s*"
    rf"(?P<role>{_AI_ROLES}|{_USER_ROLES}|system|developer|role:\s*system)\b\s*"
    r"(?:\((?P<paren>[^)\n]{0,24})\))?[\]*>]*\s*"
    r"(?:said|says|replied|replies|answered|wrote)?\s*[*]*\s*(?P<sep>[:>▸|\]]|->|—)",
    _I | re.MULTILINE,
)
_INLINE_TURN = re.compile(
    rf"<\|?(?P<role>{_AI_ROLES}|{_USER_ROLES}|system)\|?>(?P<body>.*?)(?=<\|?/?\w+\|?>|$)",
    _I | re.DOTALL,
)
_AI_ROLE_RE = re.compile(rf"^{_AI_ROLES}$", _I)
# A message object written as fields: "role: system / content: …", "role=system; content=…".
_ROLE_FIELD = re.compile(
    r"\brole\W{0,3}[:=]\W{0,3}system\W{0,3}(?:[;,]|\n)\s*\W{0,3}content\W{0,3}[:=]\s*(?P<body>[^\n]+)",
    _I,
)
_YOU_NOW = re.compile(
    r"\byou\s+(?:must|should|shall|are\s+now|will\s+now|may\s+now|are\s+(?:authori[sz]ed|allowed|"
    r"permitted|required))\b",
    _I,
)
_INLINE_TAGS = re.compile(r"</\w+>|<\|\w+\|>")


def turns_of(text: str) -> list[tuple[str, str]]:
    """The turns of an exchange written into a text: (side, words), side "ai" or "user"."""
    out: list[tuple[str, str]] = []
    inline = _INLINE_TAGS.search(text) is not None
    for line in [] if inline else text.split("\n"):
        m = _ROLE_HEAD.match(line)
        if m is None:
            continue
        role = m.group("role").lower()
        paren = (m.group("paren") or "").lower()
        if role in ("a", "q") and not paren and m.group("sep") != ":":
            continue
        if role in ("system", "developer") or role.startswith("role"):
            out.append(("system", line[m.end() :].strip(" *|")))
            continue
        ai = bool(_AI_ROLE_RE.match(paren) or (_AI_ROLE_RE.match(role) and role != "a"))
        if role == "a" and not paren:
            ai = False  # "A: …" of a Q&A is anyone's answer, not an AI's
        out.append(("ai" if ai else "user", line[m.end() :].strip(" *|")))
    for m in _ROLE_FIELD.finditer(text):
        out.append(("system", m.group("body").strip(" \"'{}")))
    if not out:
        for m in _INLINE_TURN.finditer(text):
            role = m.group("role").lower()
            side = "system" if role == "system" else ("ai" if _AI_ROLE_RE.match(role) else "user")
            out.append((side, m.group("body").strip()))
    return out


# What an AI's written-in turn hands out or vouches for: a secret's value, money moved, access
# for anyone, an assurance that something is safe or genuine, a change made, a promise to keep
# doing it. An honest exported answer gives facts; these are what a planted one is for.
_TURN_SECRET = re.compile(
    r"\b(?:password|passcode|pin|code|combination|key|seed\s+phrase)\b[^.\n]{0,24}?"
    r"\b(?:is|it'?s|:)\s*['\"]?\w*\d[\w!#-]*|\bit'?s\s+[\w-]*\d[\w!#-]*\b|\b\d{2}-\d{2}-\d{2}\b",
    _I,
)
_TURN_MONEY = re.compile(
    r"\b(?:pay|paid|transfer|wire|send\s+(?:it|the\s+money|money)|wallet|iban|bank\s+details|"
    r"gift\s+cards?|crypto|deposit|savings|card\s+number|approve(?:d)?\s+(?:it|the\s+payment|"
    r"transfers?))\b",
    _I,
)
_TURN_SHARE = re.compile(
    r"\b(?:anyone|everyone|any\s+time|freely|whoever|all\s+of\s+them)\b|\b(?:share|give|text|"
    r"send)\s+(?:it|them|this)\b|\bmay\s+(?:have|borrow|use|withdraw)\b",
    _I,
)
_TURN_ASSURE = re.compile(
    r"\b(?:legit(?:imate)?|genuine|verified|trustworthy|real|safe(?:r)?|confirmed|approved|"
    r"no\s+need\s+to\s+(?:check|verify)|they(?:'re|\s+are)\s+(?:family|genuine|real))\b",
    _I,
)
_TURN_DID = re.compile(
    r"\b(?:i(?:'ve|\s+have)\s+(?:set|moved|disabled|turned\s+off|approved|shared|sent|"
    r"changed|granted)|i\s+(?:also\s+)?(?:moved|disabled|approved|shared|sent|granted)|"
    r"(?:checks?|verification)\s+(?:are|is)\s+(?:off|complete))\b",
    _I,
)
_TURN_ALWAYS = re.compile(
    r"\bfrom\s+now\s+on\b|\b(?:always|never|every\s+time|again)\b|\bi(?:'ll|\s+will)\s+(?:keep|"
    r"always|never|approve|answer)\b|\bwithout\s+asking\b",
    _I,
)
# After the turns: a cue to keep or reuse them ("remember that", "noted", "save this reply").
_TURN_CUE = re.compile(
    r"\b(?:remember|noted|save|saved|keep|reuse|repeat|copy|again|use\s+(?:it|this)|"
    r"(?:same|this)\s+answer|should\s+(?:give|cite|say))\b",
    _I,
)
# The user asking for themselves: "my", "me", "I" with a question or a "please", and nothing
# aimed at a third party. An order planted for an AI speaks about "the user" or to a listener.
FIRST_PERSON = re.compile(r"\b(?:i|my|me|mine|i'm|i've|myself)\b", _I)
_THIRD_PARTY = re.compile(
    r"\b(?:the\s+(?:user|reader|recipient|customer|buyer)s?|users|anyone|everyone|someone|"
    r"he|she|him|her|they|them|his|their)\b",
    _I,
)

_LEET = str.maketrans("013457@$", "oieastas")
_MIXED = re.compile(r"\b(?=\w*[a-z])(?=\w*[0-9])[a-z0-9@$]{3,}\b", _I)
_HYPHENS = re.compile(r"(?<=[a-z])-(?=[a-z]{1,4}\b-?)", _I)
# Common words of other languages for an assistant and for orders (a light touch, not a parse).
_FOREIGN_AI = re.compile(r"\b(?:assistent|assistente|asistente|l'assistente|modell|modèle)\b", _I)


# A quotation of four words or more is a mention ("the classic test string: '…'"), not an order:
# it is read as one placeholder word, and the words around it decide.
_QUOTATION = re.compile(r"[\"“]([^\"”\n]{3,300})[\"”]|(?<![\w'])'([^'\n]{3,300})'(?![\w'])")


def _unquote(m: re.Match[str]) -> str:
    inner = m.group(1) or m.group(2) or ""
    return " QUOTED " if len(inner.split()) >= 4 else m.group(0)


def normalise(text: str) -> str:
    """Undo the cheapest disguises (digits for letters inside words, hyphens inside words) and
    set long quotations aside."""
    text = _MIXED.sub(lambda m: m.group(0).translate(_LEET), text)
    return _QUOTATION.sub(_unquote, _HYPHENS.sub("", text))


# The kinds of order that name what a planted instruction wants; the model flags a text only
# when one is present, so every flag can say why.
SIGNS = (
    "persona", "response", "your_answers", "trigger", "plant", "secrecy", "your_rules",
    "told_before", "send_data", "jailbreak", "obey", "harm", "set_aside",
    "act_on_data",
)  # fmt: skip


def _any(rx: re.Pattern[str], sents: list[str]) -> float:
    return 1.0 if any(rx.search(s) for s in sents) else 0.0


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(text) if s and s.strip()]


# A greeting to an AI as a sentence of its own: "Hello Mnemo." "Welcome, assistant."
_GREETING = re.compile(
    rf"^(?:hello|hi|hey|welcome|greetings|good\s+(?:morning|evening|day)|dear|attention)\W+"
    rf"(?:(?:the|my|our|dear)\s+)?(?:[\w-]+\s+)?{_AI}\W*$",
    _I,
)


def _addressed_from(sents: list[str]) -> int | None:
    """Index of the first sentence spoken to an AI, or None."""
    for i, s in enumerate(sents):
        if _GREETING.match(s) and i + 1 < len(sents):
            return i
        if _BARE_VOCATIVE.match(s) and not _AI_ABOUT.search(s):
            return i
        spoken = _AI_VOC_MID.search(s) or _AI_MODAL.search(s) or _IF_AI.search(s)
        if _VOCATIVE.search(s) or (spoken and not _AI_ABOUT.search(s)):
            return i
        if _FOR_AI.search(s) and s.rstrip().endswith((":", "—", "-")):
            return i
    return None


def _kinds(t: str, sents: list[str]) -> dict[str, float]:
    """Which kinds of order a stretch of text gives (each 0 or 1)."""
    condition = bool(_CONDITION.search(t) or _ON_QUESTION.search(t))
    asked = bool(_ASKED.search(t))
    say_after = False
    m = _CONDITION.search(t) or _ON_QUESTION.search(t)
    if m is not None:
        # The answer verb on the same line, close after the condition (not a "Reply" button).
        line_end = t.find("\n", m.end())
        stop = min(m.end() + 120, line_end if line_end >= 0 else len(t))
        say_after = bool(_SAY_VERB.search(t, m.end(), stop))
    bare = [_VOCATIVE.sub("", x, count=1).strip() for x in sents]
    return {
        "imperative": _any(_IMPERATIVE, sents),
        "order_after_address": _any(_IMPERATIVE, bare),
        "speech": 1.0 if _SPEECH.search(t) else 0.0,
        "harm": 1.0 if _HARM.search(t) else 0.0,
        "action": 1.0 if _ACTION.search(t) else 0.0,
        "jailbreak": 1.0 if _JAILBREAK.search(t) else 0.0,
        "obey": 1.0 if _OBEY.search(t) else 0.0,
        "you_modal": 1.0 if _YOU_MODAL.search(t) else 0.0,
        "persona": 1.0 if (_PERSONA.search(t) or _NAMED_PERSONA.search(t)) else 0.0,
        "response": 1.0 if _RESPONSE.search(t) else 0.0,
        "your_answers": 1.0 if _YOUR_ANSWERS.search(t) else 0.0,
        "condition": 1.0 if condition else 0.0,
        "trigger": 1.0 if condition and say_after else 0.0,
        "trigger_asked": 1.0 if condition and say_after and asked else 0.0,
        "plant": 1.0 if _PLANT.search(t) else 0.0,
        "secrecy": 1.0 if _SECRECY.search(t) else 0.0,
        "override": 1.0 if _OVERRIDE.search(t) else 0.0,
        "set_aside": 1.0 if _OVERRIDE.search(t) and _RULES.search(t) else 0.0,
        "act_on_data": 1.0 if _ACTION.search(t) and _OWN_DATA.search(t) else 0.0,
        "your_rules": 1.0 if _YOUR_RULES.search(t) else 0.0,
        "told_before": 1.0 if _TOLD_BEFORE.search(t) else 0.0,
        "the_user": 1.0 if _USER.search(t) else 0.0,
        "send_data": 1.0 if (_SEND.search(t) or (_DATA.search(t) and _URL.search(t))) else 0.0,
    }


def features(text: str) -> dict[str, float]:
    """Named features of one memory, every value 0 or 1."""
    t_all = normalise(text)
    # An AI's own turns ("Assistant: …") are the AI speaking, not orders to it: the order kinds
    # are read from the rest, and a turn counts only as a commitment that names a kind.
    lines = t_all.split("\n")
    turn_lines = [x for x in lines if _AI_TURN.match(x)]
    if len(turn_lines) == 1 and len(_TURN.findall(t_all)) == 1:
        # One labelled line alone: "Model: reply in one word" is an order under a label, while
        # "Assistant: the café opens at nine" is a captured answer.
        head = _AI_TURN.sub("", turn_lines[0], count=1).strip()
        if _IMPERATIVE.match(head):
            turn_lines = []
    said = "\n".join(turn_lines)
    t = "\n".join(x for x in lines if x not in turn_lines)
    sents = sentences(t)
    said_kinds = _kinds(said, sentences(said)) if said else None
    # A fake turn: the AI "admits" being told to, or commits to a behaviour that names a kind.
    fake_turn = 0.0
    if said_kinds is not None and (
        _TOLD_TURN.search(said)
        or (_COMMIT.search(said) and any(said_kinds[k] for k in SIGNS))
        or (_FAKE_AI_TURN.search(said) and any(said_kinds[k] for k in SIGNS))
    ):
        fake_turn = 1.0
    exchange = turns_of(text)  # quotations kept: a turn may quote its words
    ai_said = " ".join(w for side, w in exchange if side == "ai")
    user_side = any(side == "user" for side, _ in exchange)
    two_sided = 1.0 if ai_said and (user_side or len(exchange) >= 2) else 0.0
    last_ai = max((i for i, (side, _) in enumerate(exchange) if side == "ai"), default=-1)
    after = " ".join(w for _, w in exchange[last_ai + 1 :]) if last_ai >= 0 else ""
    rest = "\n".join(x for x in lines if not _ROLE_HEAD.match(x))
    turn_payload = {
        "turn_secret": _TURN_SECRET,
        "turn_money": _TURN_MONEY,
        "turn_share": _TURN_SHARE,
        "turn_assure": _TURN_ASSURE,
        "turn_did": _TURN_DID,
        "turn_always": _TURN_ALWAYS,
    }
    turn_feats = {
        k: (1.0 if ai_said and rx.search(ai_said) else 0.0) for k, rx in turn_payload.items()
    }
    turn_cue = 1.0 if ai_said and (_TURN_CUE.search(after) or _TURN_CUE.search(rest)) else 0.0
    # A system turn that gives an order or speaks of the assistant or the user; a log line
    # ("system: backup completed") does neither.
    system_turn = (
        1.0
        if any(
            side == "system"
            and (_IMPERATIVE.match(w) or _AI_RE.search(w) or _USER.search(w) or _YOU_NOW.search(w))
            for side, w in exchange
        )
        else 0.0
    )
    about_removed = _AI_ABOUT.sub(" ", t_all)
    ai = 1.0 if (_AI_RE.search(about_removed) or _FOREIGN_AI.search(t_all)) else 0.0
    about = 1.0 if _AI_ABOUT.search(t_all) else 0.0
    start = _addressed_from(sents) if ai else None
    addressed = 1.0 if start is not None else 0.0
    whole = _kinds(t, sents)
    span_sents = sents[start:] if start is not None else []
    span = _kinds(" ".join(span_sents), span_sents) if span_sents else dict.fromkeys(whole, 0.0)
    turns = _TURN.findall(t_all)
    ai_turns = _AI_TURN.findall(t_all)
    transcript = 1.0 if len(turns) >= 2 and ai_turns else 0.0
    # The reader is spoken to ("you") or named (an AI, a transcript with one).
    reader = ai or transcript or fake_turn or (1.0 if _YOU.search(t) else 0.0)
    follow_up = transcript * (1.0 if _AFTER_TURNS.search(t) else 0.0)
    value = transcript * (1.0 if _VALUE.search(t_all) else 0.0)
    payload = any(turn_feats.values())
    sign = (
        any(whole[k] for k in SIGNS)
        or fake_turn
        or follow_up
        or value
        or (ai_said and payload)
        or system_turn
    )
    reader = reader or (1.0 if (ai_said and payload) or system_turn else 0.0)
    # Spoken to an AI, and then told to do or say something.
    addressed_order = (
        1.0
        if start is not None
        and (span["order_after_address"] or span["speech"] or span["action"] or span["you_modal"])
        else 0.0
    )
    sign = sign or addressed_order
    own_request = (
        1.0
        if FIRST_PERSON.search(t)
        and not _THIRD_PARTY.search(t)
        and (_QUESTION.search(t) or re.search(r"\bplease\b|\bpls\b", t, _I))
        else 0.0
    )
    out = {
        "has_reader": reader * (1.0 if sign else 0.0),
        "ai_mentioned": ai,
        "about_an_ai": about,
        "ai_addressed": addressed,
        "transcript": transcript,
        "transcript_follow_up": follow_up,
        "transcript_value": value,
        "fake_ai_turn": fake_turn,
        "meta": 1.0 if _META.search(t) else 0.0,
        "question": 1.0 if _QUESTION.search(t) else 0.0,
        "polite_ask": 1.0 if _FIRST_PERSON_ASK.search(t) else 0.0,
        "quoted": 1.0 if _QUOTED.search(t) else 0.0,
        "human_role": 1.0 if _HUMAN_ROLE.search(t) else 0.0,
        "short": 1.0 if len(t.split()) <= 6 else 0.0,
        "long": 1.0 if len(t.split()) >= 60 else 0.0,
        "exchange": two_sided,
        **turn_feats,
        "turn_cue": turn_cue,
        "turn_payloads_2": 1.0 if sum(turn_feats.values()) >= 2 else 0.0,
        # An exchange whose AI side hands out or vouches for something, and is kept or doubled.
        "fake_exchange": 1.0
        if two_sided
        and (sum(turn_feats.values()) >= 2 or (payload and turn_cue) or turn_feats["turn_secret"])
        else 0.0,
        "system_turn": system_turn,
        "own_request": own_request,
        "addressed_order": addressed_order,
    }
    for k, v in whole.items():
        out[k] = v
        out[f"ai_text_{k}"] = v * ai * (1.0 - about)
        out[f"addressed_{k}"] = span[k]
    out["addressed_x_meta"] = addressed * out["meta"]
    out["addressed_x_question"] = addressed * out["question"]
    return out


FEATURES: tuple[str, ...] = tuple(features(""))

# --------------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class Model:
    weights: dict[str, float]
    pairs: dict[tuple[str, str], float]  # (a, b) in FEATURES order: both features present
    bias: float
    threshold: float

    def logit(self, feats: dict[str, float]) -> float:
        on = [k for k in FEATURES if feats.get(k)]
        z = self.bias + sum(self.weights[k] for k in on)
        for i, a in enumerate(on):
            for b in on[i + 1 :]:
                z += self.pairs.get((a, b), 0.0)
        return z

    def probability(self, feats: dict[str, float]) -> float:
        # Only a text with a reader it speaks to (an AI named, "you", a transcript) can instruct
        # one: "Never tell the user whether the e-mail exists" is a note between developers. And
        # only one that asks for something nameable (SIGNS) is flagged.
        if not feats.get("has_reader"):
            return 0.0
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, self.logit(feats)))))

    def top(self, feats: dict[str, float], n: int = 3) -> list[str]:
        """The present features with the largest positive weights (for the reason text)."""
        scored = sorted(((self.weights[k], k) for k in FEATURES if feats.get(k)), reverse=True)
        return [k for w, k in scored[:n] if w > 0]


class WeightsError(UserFacingError):
    """The structural detector's weights file is missing or damaged."""

    code = "model_missing"


def read_weights(path: Path, maker: str, version: int) -> tuple[dict[str, Any], str, str]:
    """A detector's weights file as JSON, with the phrases its errors use (what, fix); missing,
    unreadable or from another version raises WeightsError, never a silent pass."""
    fix = f"Reinstall Mnemo, or restore the file from the release ({maker} makes it)."
    what = f"The poison detector's weights file {path}"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"{what} is missing. {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{what} cannot be read ({type(exc).__name__}). {fix}") from None
    if not isinstance(raw, dict) or raw.get("version") != version:
        raise WeightsError(f"{what} is damaged or from another version. {fix}")
    return raw, what, fix


def load_model(path: Path | None = None) -> Model:
    """Read and check the weights file (default WEIGHTS_PATH). Any problem raises WeightsError,
    never a silent pass: a detector without its weights would let poison through unseen."""
    path = path or WEIGHTS_PATH
    raw, what, fix = read_weights(path, "bench/suspicion_fit.py", WEIGHTS_VERSION)
    try:
        weights = {str(k): float(v) for k, v in raw["weights"].items()}
        pairs: dict[tuple[str, str], float] = {}
        for key, v in raw.get("pairs", {}).items():
            a, b = str(key).split("&")
            pairs[(a, b)] = float(v)
        bias, threshold = float(raw["bias"]), float(raw["threshold"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise WeightsError(f"{what} is damaged or from another version. {fix}") from None
    order = {k: i for i, k in enumerate(FEATURES)}
    known = set(weights) == set(FEATURES) and all(
        a in order and b in order and order[a] < order[b] for a, b in pairs
    )
    finite = all(map(math.isfinite, [*weights.values(), *pairs.values(), bias]))
    if not known or not finite:
        raise WeightsError(f"{what} does not match this version's features. {fix}")
    if not 0.0 < threshold < 1.0:
        raise WeightsError(f"{what} has a threshold outside (0, 1). {fix}")
    return Model(weights, pairs, bias, threshold)


@lru_cache(maxsize=1)
def shipped_model() -> Model:
    return load_model()


def score(text: str, model: Model | None = None) -> tuple[float, list[str]]:
    """The model's probability that `text` is poison, and the features that led to it."""
    m = model or shipped_model()
    feats = features(text)
    return m.probability(feats), m.top(feats)
