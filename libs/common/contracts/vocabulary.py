"""The shared vocabulary of the events: benefit status codes and their categories (DOMAIN.md)."""

from __future__ import annotations

from enum import StrEnum


class StatusCategory(StrEnum):
    public_support = "public_support"
    self_supporting = "self_supporting"


class StatusCode(StrEnum):
    sygedagpenge = "sygedagpenge"
    jobafklaring = "jobafklaring"
    a_dagpenge = "a_dagpenge"
    kontanthjaelp = "kontanthjaelp"
    uddannelseshjaelp = "uddannelseshjaelp"
    selvforsoergelsesydelse = "selvforsoergelsesydelse"
    revalidering = "revalidering"
    ressourceforloeb = "ressourceforloeb"
    ledighedsydelse = "ledighedsydelse"
    fleksjob = "fleksjob"
    foertidspension = "foertidspension"
    efterloen = "efterloen"
    barselsdagpenge = "barselsdagpenge"
    employed = "employed"
    education = "education"
    self_supporting = "self_supporting"


# (Danish name, default category), from jobindsats' definition of offentlig forsørgelse.
STATUS_CODES: dict[StatusCode, tuple[str, StatusCategory]] = {
    StatusCode.sygedagpenge: ("sygedagpenge", StatusCategory.public_support),
    StatusCode.jobafklaring: ("jobafklaringsforløb (ressourceforløbsydelse)", StatusCategory.public_support),
    StatusCode.a_dagpenge: ("a-dagpenge, kontantydelse", StatusCategory.public_support),
    StatusCode.kontanthjaelp: ("kontanthjælp", StatusCategory.public_support),
    StatusCode.uddannelseshjaelp: ("uddannelseshjælp", StatusCategory.public_support),
    StatusCode.selvforsoergelsesydelse: (
        "selvforsørgelses- og hjemrejseydelse / integrationsydelse",
        StatusCategory.public_support,
    ),
    StatusCode.revalidering: ("revalidering, forrevalidering", StatusCategory.public_support),
    StatusCode.ressourceforloeb: ("ressourceforløb", StatusCategory.public_support),
    StatusCode.ledighedsydelse: ("ledighedsydelse", StatusCategory.public_support),
    StatusCode.fleksjob: ("fleksjob", StatusCategory.public_support),
    StatusCode.foertidspension: ("førtidspension", StatusCategory.public_support),
    StatusCode.efterloen: ("efterløn, seniorpension", StatusCategory.public_support),
    StatusCode.barselsdagpenge: ("barselsdagpenge", StatusCategory.public_support),
    StatusCode.employed: ("ordinær beskæftigelse eller egen virksomhed", StatusCategory.self_supporting),
    StatusCode.education: ("ordinær uddannelse, SU", StatusCategory.self_supporting),
    StatusCode.self_supporting: ("selvforsørgende, årsag ukendt", StatusCategory.self_supporting),
}
