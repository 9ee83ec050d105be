"""The accessibility declaration (RGAA, issue 25) and the « Signaler un problème d'accessibilité »
form: the declaration is rich text an administrator edits (PlatformSetting, sanitised with nh3 like
every page's rich text), with a French default that follows the official model's sections; a report
reaches the operator as a mail of the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from app import db
from app.services import outbox
from app.services.accounts import EMAIL_RE
from app.services.errors import ValidationFailed
from app.services.learner import clean_html
from app.services.roles import ADMIN
from app.services.text import Multiline
from app.tables.accounts import RoleAssignment
from app.validation import MaxLen, Required, declared_errors

DECLARATION_KEY = "accessibility_declaration"
CONTACT_KEY = "accessibility_contact"
STATUS = "partiellement conforme"  # what the footer states (the checks support no more)
DECLARATION_MAX = 50_000

DEFAULT_DECLARATION = """<h2>État de conformité</h2>
<p>Tremplin est <strong>partiellement conforme</strong> avec le référentiel général d'amélioration de
l'accessibilité (RGAA), version 4.1, en raison des non-conformités et des dérogations énumérées ci-dessous.</p>
<h2>Résultats des tests</h2>
<p>Chaque écran (tous les rôles, l'inscription en ligne, l'espace de l'apprenant) est vérifié
automatiquement (axe-core, contrastes compris) à chaque version, avec et sans JavaScript : aucune
violation de niveau A ou AA. Sont aussi vérifiés automatiquement : la hiérarchie des titres sans saut,
les en-têtes de tableaux, le nom distinct des zones de navigation, l'affichage sans défilement
horizontal à 320 et à 640 pixels de large (zoom à 200 %), des titres de page distincts, les parcours
au clavier (connexion, import de comptes, inscription d'apprenants, suivi d'une activité, inscription
en ligne : focus visible, ordre logique, lien d'évitement, erreurs annoncées) et le balisage des PDF.
Le code HTML des écrans contrôlés avec le validateur du W3C est valide. Les graphiques ont une
alternative textuelle (leurs tableaux de chiffres). Un audit complet des 106 critères par un organisme
indépendant reste à conduire.</p>
<h2>Contenus non accessibles</h2>
<ul>
<li>Les documents PDF (attestations, certificats de réalisation, convocations, feuilles d'émargement,
bulletins) sont balisés (PDF/UA) ; ceux délivrés avant leur balisage ne le sont pas.</li>
<li>Les contenus de formation déposés par les établissements (fichiers, vidéos) relèvent de leurs auteurs.</li>
<li>La signature de la feuille d'émargement se trace à la main : une signature par mot de passe ou
QR code est proposée en alternative.</li>
</ul>
<h2>Établissement de cette déclaration</h2>
<p>Cette déclaration a été établie le 7 décembre 2026. Technologies utilisées : HTML5, CSS, SVG,
JavaScript (facultatif : chaque page fonctionne sans). Environnement de test : Chromium avec axe-core,
validateur HTML du W3C.</p>
<h2>Retour d'information et contact</h2>
<p>Si vous n'arrivez pas à accéder à un contenu ou à un service, vous pouvez nous le signaler par le
formulaire « Signaler un problème d'accessibilité » pour être orienté vers une alternative accessible
ou obtenir le contenu sous une autre forme.</p>
<h2>Voies de recours</h2>
<p>Si vous constatez un défaut d'accessibilité vous empêchant d'accéder à un contenu ou à une
fonctionnalité, que vous nous l'avez signalé et que vous n'avez pas obtenu de réponse satisfaisante,
vous pouvez :</p>
<ul>
<li>écrire un message au <a href="https://formulaire.defenseurdesdroits.fr/">Défenseur des droits</a> ;</li>
<li>contacter le délégué du Défenseur des droits de votre région ;</li>
<li>envoyer un courrier (gratuit, sans affranchissement) : Défenseur des droits, Libre réponse 71120,
75342 Paris CEDEX 07.</li>
</ul>"""


async def declaration() -> str:
    """The declaration as shown: the administrator's text, sanitised again on the way out."""
    return clean_html(await outbox.get_setting(DECLARATION_KEY, "") or DEFAULT_DECLARATION)


@dataclass
class DeclarationForm:
    declaration: Annotated[Multiline, Required("Le texte de la déclaration est obligatoire."),
                           MaxLen(DECLARATION_MAX, "La déclaration")] = ""
    contact: Annotated[str, MaxLen(254, "L'adresse")] = ""


async def contact() -> str:
    return await outbox.get_setting(CONTACT_KEY, "")


async def save_declaration(form: DeclarationForm) -> None:
    errors = declared_errors(form)
    if form.contact and not _looks_like_email(form.contact):
        errors["contact"] = "Saisissez une adresse de courriel valide, par exemple nom@exemple.fr."
    if errors:
        raise ValidationFailed(errors)
    async with db.transaction():
        await outbox.set_setting(DECLARATION_KEY, clean_html(form.declaration))
        await outbox.set_setting(CONTACT_KEY, form.contact)


def _looks_like_email(value: str) -> bool:
    """One address, as accounts take them (no list: « a@b.fr,c@d.fr » would mail two)."""
    return bool(EMAIL_RE.match(value))


@dataclass
class ReportForm:
    page: Annotated[str, MaxLen(500, "L'adresse de la page")] = ""
    description: Annotated[Multiline, Required("Décrivez le problème rencontré."),
                           MaxLen(5000, "La description")] = ""
    email: Annotated[str, MaxLen(254, "L'adresse")] = ""


async def _recipients() -> list[str]:
    chosen = await contact()
    if chosen:
        return [chosen]
    rows = await RoleAssignment.select(RoleAssignment.user.email.as_alias("email")).where(
        (RoleAssignment.role == ADMIN) & (RoleAssignment.user.is_suspended == False))  # noqa: E712
    return sorted({r["email"] for r in rows if r["email"]})


async def report(form: ReportForm) -> int:
    """Queue the report for the operator (the declaration's contact, else the administrators); the
    mail id, to dispatch after the commit."""
    errors = declared_errors(form)
    if form.email and not _looks_like_email(form.email):
        errors["email"] = "Saisissez une adresse de courriel valide, par exemple nom@exemple.fr, ou laissez le champ vide."
    if errors:
        raise ValidationFailed(errors)
    body = (f"Un problème d'accessibilité a été signalé sur Tremplin.\n\n"
            f"Page concernée : {form.page or '(non précisée)'}\n"
            f"Adresse de réponse : {form.email or '(aucune)'}\n\n"
            f"Description :\n{form.description}\n")
    async with db.transaction():
        return await outbox.queue_mail(await _recipients(), "Signalement d'un problème d'accessibilité", body,
                                       category="accessibility")
