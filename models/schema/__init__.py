"""All tables. Import from here: `from models.schema import Customer`."""
from .users import Role, User
from .customers import (Customer, CustomerOperator, Contact, ContactRecord, StageHistory, STAGES,
                        OWNERSHIP_MODES)
from .sales import Product, Opportunity, OpportunityItem, Order, OrderItem, OrderFollowUp
from .library import Document, Competitor, ResourceSite, CallScript
from .config import StageRule, QueryableField, ImportTemplate, AppSetting
from .logs import OperatorHistory, ClaimLog, Event, ImportJob
from .recordings import Recording  # noqa: F401  (recordings table, T5)
from .ivr import IVRCall  # noqa: F401  (ivr_calls table, T2)
from .calls import Call, CallLeg  # noqa: F401  (the call log, issue 13)
from .campaigns import (  # noqa: F401  (outbound campaigns, T4)
    Campaign, CampaignAgent, CampaignLead, DialAttempt, DoNotCall, AgentState, AgentStateLog)

__all__ = [
    "Role", "User", "Customer", "CustomerOperator", "Contact", "ContactRecord", "STAGES",
    "OWNERSHIP_MODES", "Product", "Opportunity", "OpportunityItem", "Order", "OrderItem",
    "OrderFollowUp", "Document", "Competitor", "ResourceSite", "CallScript", "StageRule",
    "QueryableField", "ImportTemplate", "AppSetting", "OperatorHistory", "ClaimLog", "Event",
    "ImportJob", "StageHistory",
]
